package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// writeJSON writes v as the response body with Kong's content type.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	// set here so that HEAD, which writes no body, has GET's headers
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// writeError writes a Kong-shaped error. Errors that are not *schema.Error
// are internal: they answer Kong's generic 500.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var kerr *schema.Error
	if !errors.As(err, &kerr) {
		kerr = schema.Plain(http.StatusInternalServerError, "An unexpected error occurred")
	}
	status := kerr.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusUnsupportedMediaType {
		w.WriteHeader(status) // Kong answers 415 with an empty body
		return
	}
	writeJSON(w, r, status, kerr)
}

// noContent answers 204 with no body.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
