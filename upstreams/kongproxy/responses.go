package kongproxy

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Kong's messages for requests it does not proxy.
const (
	msgNoRoute    = "no Route matched with those values"
	msgNoService  = "no Service found with those values"
	msgUseHTTPS   = "Please use HTTPS protocol"
	msgUnexpected = "An unexpected error occurred"
)

// requestIDHeader carries Kong's request id, to the client and upstream.
const requestIDHeader = "X-Kong-Request-Id"

// writeKongError answers as Kong's kong.response.error does: a JSON body
// with the message and the request id.
func writeKongError(w http.ResponseWriter, status int, message, requestID string) {
	body, _ := json.Marshal(struct {
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	}{message, requestID})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// redirectToHTTPS answers a plain HTTP request for a route whose
// protocols are https only, with the route's https_redirect_status_code:
// 426 with Kong's upgrade headers, or a redirect to the https URL.
func redirectToHTTPS(w http.ResponseWriter, r *http.Request, status int, requestID string) {
	if status == 0 || status == http.StatusUpgradeRequired {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "TLS/1.2, HTTP/1.1")
		writeKongError(w, http.StatusUpgradeRequired, msgUseHTTPS, requestID)
		return
	}
	w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
	w.WriteHeader(status)
}
