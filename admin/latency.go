package admin

import (
	"net/http"
	"strconv"
	"time"
)

// AdminLatencyHeader is the header in which Kong's Admin API gives, on
// every response, the milliseconds it took to answer.
const AdminLatencyHeader = "X-Kong-Admin-Latency"

// latencyWriter sets AdminLatencyHeader when the status is written.
type latencyWriter struct {
	http.ResponseWriter
	start time.Time
	wrote bool
}

// withAdminLatency returns w set to carry AdminLatencyHeader, timed from
// now; a writer that already carries it (the guard wraps before the API
// does) is returned as it is.
func withAdminLatency(w http.ResponseWriter) http.ResponseWriter {
	for inner := w; inner != nil; {
		if _, ok := inner.(*latencyWriter); ok {
			return w
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		inner = u.Unwrap()
	}
	return &latencyWriter{ResponseWriter: w, start: time.Now()}
}

// WriteHeader sets the latency header, then writes the status.
func (lw *latencyWriter) WriteHeader(status int) {
	if !lw.wrote {
		lw.wrote = true
		lw.Header().Set(AdminLatencyHeader, strconv.FormatInt(time.Since(lw.start).Milliseconds(), 10))
	}
	lw.ResponseWriter.WriteHeader(status)
}

// Write writes the body, with a 200 status if none was written.
func (lw *latencyWriter) Write(b []byte) (int, error) {
	if !lw.wrote {
		lw.WriteHeader(http.StatusOK)
	}
	return lw.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (lw *latencyWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }
