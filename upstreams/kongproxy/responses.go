package kongproxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

// upstreamErrorMessages are Kong's default bodies for proxying failures
// (kong.response.error's messages by status).
var upstreamErrorMessages = map[int]string{
	http.StatusInternalServerError: msgUnexpected,
	http.StatusBadGateway:          "An invalid response was received from the upstream server",
	http.StatusServiceUnavailable:  "The upstream server is currently unavailable",
	http.StatusGatewayTimeout:      "The upstream server is timing out",
}

// startedWriter records whether the response has begun, so a proxying
// error can still be answered with Kong's body when nothing was written.
type startedWriter struct {
	caddyhttp.ResponseWriterWrapper
	started bool
}

func (w *startedWriter) WriteHeader(status int) {
	if status >= 200 || status == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriterWrapper.WriteHeader(status)
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriterWrapper.Write(b)
}

// answerProxyError answers a failed proxying (no target, connection
// refused, timeout) with Kong's JSON body and status, unless the response
// had begun or the client went away. It reports whether it answered.
func answerProxyError(w *startedWriter, err error, requestID string) bool {
	var he caddyhttp.HandlerError
	if w.started || !errors.As(err, &he) {
		return false
	}
	msg, ok := upstreamErrorMessages[he.StatusCode]
	if !ok {
		return false
	}
	writeKongError(w, he.StatusCode, msg, requestID)
	return true
}
