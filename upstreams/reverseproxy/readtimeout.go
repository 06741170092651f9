package reverseproxy

import (
	"context"
	"net"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Provision provisions Caddy's HTTP transport, then makes a read_timeout
// end an attempt the way Kong's does, so that the retry goes to another
// target (see guardReadTimeout).
func (t *Transport) Provision(ctx caddy.Context) error {
	if err := t.HTTPTransport.Provision(ctx); err != nil {
		return err
	}
	t.guardReadTimeout()
	return nil
}

// guardReadTimeout keeps net/http from silently resending a request to
// the target that just timed out.
//
// Caddy's read_timeout is a deadline set when each read of the connection
// starts. A pooled keep-alive connection waits for its next response in a
// read started when it went idle, so the deadline of a request sent on it
// counts from then, not from the request; and when that read fails on a
// reused connection, net/http resends an idempotent request on a new
// connection to the same address before reverse_proxy sees an error. A
// retry after a read timeout then went back to the same target (and its
// first wait was shorter than read_timeout).
//
// So, with a read_timeout: the wait for the response headers is bounded by
// response_header_timeout (read_timeout unless set lower), whose expiry
// net/http reports without resending, and every write to a connection
// moves its read deadline past that bound, so the pending read's deadline
// never fires first. Reads of the response body keep Caddy's read_timeout
// between two reads, as nginx's proxy_read_timeout.
func (t *Transport) guardReadTimeout() {
	rt := t.HTTPTransport.Transport
	readTimeout := time.Duration(t.ReadTimeout)
	if rt == nil || readTimeout <= 0 || rt.DialContext == nil {
		return
	}
	if rt.ResponseHeaderTimeout <= 0 || rt.ResponseHeaderTimeout > readTimeout {
		rt.ResponseHeaderTimeout = readTimeout
	}
	dial := rt.DialContext
	pastHeaders := rt.ResponseHeaderTimeout + readTimeout
	rt.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &requestDeadlineConn{Conn: conn, readDeadline: pastHeaders}, nil
	}
}

// requestDeadlineConn moves its read deadline readDeadline ahead on every
// write, so that a read pending since the connection went idle times out
// counting from the request, not from the idle time.
type requestDeadlineConn struct {
	net.Conn
	readDeadline time.Duration
}

func (c *requestDeadlineConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.readDeadline))
	}
	return n, err
}
