package admin

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// streams ends the API's Server-Sent Events streams when the listener
// serving them shuts down: an open stream would otherwise keep Caddy's
// graceful shutdown (and so a stop, or the end of a reloaded config's
// server) waiting for a response that never ends. The zero value is ready.
type streams struct {
	once      sync.Once
	closeOnce sync.Once
	closed    chan struct{}
}

// done returns the channel closed by close.
func (s *streams) done() <-chan struct{} {
	s.once.Do(func() { s.closed = make(chan struct{}) })
	return s.closed
}

// close ends every stream, open or future.
func (s *streams) close() {
	s.done()
	s.closeOnce.Do(func() { close(s.closed) })
}

// CloseStreams ends the API's event streams (GET /upstreams/{u}/stats with
// Accept: text/event-stream), those open and those opened later.
func (a *API) CloseStreams() { a.streams.close() }

// CloseStreamsOnShutdown ends the API's event streams when the Caddy HTTP
// server that ctx provisions a handler for starts shutting down, and when
// ctx is cancelled (the config is unloaded). Call it from the Provision of
// a handler that serves the API.
func (a *API) CloseStreamsOnShutdown(ctx caddy.Context) {
	if ctx.Context == nil { // a handler provisioned outside a Caddy config (a test)
		return
	}
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok {
		srv.RegisterOnShutdown(a.CloseStreams)
	}
	ctx.OnCancel(a.CloseStreams)
}

// serve streams first, then next() every statsInterval, as Server-Sent
// Events, until the client goes away, the streams are closed or
// statsStreamLifetime has passed. An error from next (the upstream was
// deleted) is sent as an "error" event holding its Kong-shaped body and
// ends the stream.
func (s *streams) serve(w http.ResponseWriter, r *http.Request, first any, next func() (any, error)) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: " + strconv.Itoa(int(statsInterval/time.Millisecond)) + "\n")); err != nil {
		return
	}
	if writeEvent(w, "", first) != nil {
		return
	}
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	end := time.NewTimer(statsStreamLifetime)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done():
			return
		case <-end.C:
			return
		case <-tick.C:
		}
		v, err := next()
		if err != nil {
			var kerr *schema.Error
			if errors.As(err, &kerr) {
				writeEvent(w, "error", kerr)
			}
			return
		}
		if writeEvent(w, "", v) != nil {
			return
		}
	}
}
