package kongproxy_test

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// upstreamService creates upstream name with the given targets and a
// service of the same name in front of it, with extra service fields,
// routed at /<name>.
func upstreamService(t *testing.T, reg *upstreams.Registry, name string, targets []string, fields map[string]any) {
	t.Helper()
	create(t, reg.CreateUpstream, map[string]any{"name": name})
	for _, target := range targets {
		if _, err := reg.CreateTarget(t.Context(), name, map[string]any{"target": target}); err != nil {
			t.Fatal(err)
		}
	}
	fields["name"], fields["host"] = name, name
	create(t, reg.CreateService, fields)
	route(t, reg, name, map[string]any{"paths": []any{"/" + name}})
}

// TestServiceRetries: with one of two targets refusing connections,
// retries 1 answers every request (the retry goes to the other target);
// retries 0 lets the requests that picked the dead target fail (Kong's
// 502).
func TestServiceRetries(t *testing.T) {
	live := testcaddy.StartBackend(t, "live")
	dead := deadAddr(t)
	c, reg := startKong(t)
	upstreamService(t, reg, "retried", []string{live.Addr, dead}, map[string]any{"retries": 1.0})
	upstreamService(t, reg, "unretried", []string{live.Addr, dead}, map[string]any{"retries": 0.0})
	failed := map[string]int{}
	for range 50 {
		for _, name := range []string{"retried", "unretried"} {
			if resp, body := send(t, c, "GET", "", "/"+name); resp.StatusCode != 200 {
				failed[name]++
				if resp.StatusCode != http.StatusBadGateway || message(body) != "An invalid response was received from the upstream server" {
					t.Errorf("%s: %d %s, want 200 or Kong's 502", name, resp.StatusCode, body)
				}
			}
		}
	}
	t.Logf("failed requests of 50: retries 1: %d, retries 0: %d", failed["retried"], failed["unretried"])
	if failed["retried"] != 0 {
		t.Errorf("retries 1: %d of 50 requests failed, want 0", failed["retried"])
	}
	if failed["unretried"] == 0 {
		t.Errorf("retries 0: no request failed, so the dead target was never picked")
	}
}

// TestRetryAfterReadTimeout: a retry never goes back to the target that
// just failed, also when it failed by not answering within read_timeout
// on a kept-alive connection (which net/http would resend on a new
// connection to the same target): with one of two targets hanging and
// retries 1, every GET is answered by the other, and each request reaches
// the hanging target at most once.
func TestRetryAfterReadTimeout(t *testing.T) {
	live := testcaddy.StartBackend(t, "live")
	hung := testcaddy.StartBackend(t, "hung")
	c, reg := startKong(t)
	upstreamService(t, reg, "hanging", []string{hung.Addr, live.Addr}, map[string]any{"retries": 1.0, "read_timeout": 500.0})
	for range 4 { // both targets answer: each keeps an idle connection
		if resp, body := send(t, c, "GET", "", "/hanging"); resp.StatusCode != 200 {
			t.Fatalf("warm-up: %d %s", resp.StatusCode, body)
		}
	}
	hung.Delay.Store(int64(5 * time.Second))
	reached := 0
	for i := range 4 {
		before := hung.Hits.Load()
		resp, body := send(t, c, "GET", "", "/hanging")
		if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "live" {
			t.Errorf("request %d: %d %s, want 200 from live (the retry after the timeout goes to the other target)", i, resp.StatusCode, body)
		}
		switch n := hung.Hits.Load() - before; {
		case n > 1:
			t.Errorf("request %d reached the hanging target %d times, want at most once", i, n)
		case n == 1:
			reached++
		}
	}
	t.Logf("4 requests: %d reached the hanging target first", reached)
	if reached == 0 {
		t.Errorf("no request reached the hanging target: nothing was retried")
	}
}

// TestServiceTimeouts: read_timeout bounds the wait for the upstream's
// answer (Kong's 504), and connect_timeout the dial.
func TestServiceTimeouts(t *testing.T) {
	slow := testcaddy.StartBackend(t, "slow")
	slow.Delay.Store(int64(time.Second))
	c, reg := startKong(t)
	host, port := hostPort(t, slow.Addr)
	create(t, reg.CreateService, map[string]any{"name": "slow", "host": host, "port": port, "read_timeout": 100.0, "retries": 0.0})
	route(t, reg, "slow", map[string]any{"paths": []any{"/slow"}})
	start := time.Now()
	resp, body := send(t, c, "GET", "", "/slow")
	t.Logf("read_timeout 100 ms against a backend answering after 1 s: status %d after %v", resp.StatusCode, time.Since(start))
	if resp.StatusCode != http.StatusGatewayTimeout || message(body) != "The upstream server is timing out" {
		t.Errorf("status %d %s, want Kong's 504", resp.StatusCode, body)
	}
	slow.Delay.Store(0)
	if resp, _ := send(t, c, "GET", "", "/slow"); resp.StatusCode != 200 {
		t.Errorf("fast again: status %d, want 200", resp.StatusCode)
	}
}

// TestHTTPSService: protocol https reaches a TLS backend (not verified by
// default, as in Kong) with the service path.
func TestHTTPSService(t *testing.T) {
	addr := startTLSEcho(t, "tls")
	c, reg := startKong(t)
	host, port := hostPort(t, addr)
	create(t, reg.CreateService, map[string]any{"name": "tls", "protocol": "https", "host": host, "port": port, "path": "/p"})
	route(t, reg, "tls", map[string]any{"paths": []any{"/tls"}})
	if s := echoed(t, c, "GET", "", "/tls/x"); s.Backend != "tls" || s.URI != "/p/x" {
		t.Errorf("reached %s with %s, want tls with /p/x", s.Backend, s.URI)
	}
}

// TestUpstreamHostHeader: through an upstream the Host sent is the
// upstream's host_header when set, else the target's host, followed by
// the port unless it is the protocol's default (Kong's set_host_header);
// an upstream
// without an available target answers Kong's 503.
func TestUpstreamHostHeader(t *testing.T) {
	echo := startEcho(t, "echo")
	c, reg := startKong(t)
	upstreamService(t, reg, "named", []string{echo}, map[string]any{})
	upstreamService(t, reg, "empty", nil, map[string]any{})
	if s := echoed(t, c, "GET", "client.test", "/named"); s.Host != echo {
		t.Errorf("upstream without host_header: Host %q, want the target %q", s.Host, echo)
	}
	if _, err := reg.UpdateUpstream(t.Context(), "named", map[string]any{"host_header": "api.internal"}); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(echo)
	if s := echoed(t, c, "GET", "client.test", "/named"); s.Host != "api.internal:"+port {
		t.Errorf("host_header api.internal: Host %q, want api.internal:%s (Kong adds a port other than 80)", s.Host, port)
	}
	// Kong appends the port to an IPv6 host_header as given, bracketed once.
	for _, hh := range []string{"[::1]", "::1"} {
		if _, err := reg.UpdateUpstream(t.Context(), "named", map[string]any{"host_header": hh}); err != nil {
			t.Fatal(err)
		}
		if s := echoed(t, c, "GET", "client.test", "/named"); s.Host != "[::1]:"+port {
			t.Errorf("host_header %s: Host %q, want [::1]:%s", hh, s.Host, port)
		}
	}
	resp, body := send(t, c, "GET", "", "/empty")
	if resp.StatusCode != http.StatusServiceUnavailable || message(body) != "The upstream server is currently unavailable" {
		t.Errorf("upstream without targets: %d %s, want Kong's 503", resp.StatusCode, body)
	}
}

// TestHashOnURICapture: Kong's hash_on uri_capture names a group of the
// route's regex path: the same user always reaches the same target, and
// 30 users spread over the three.
func TestHashOnURICapture(t *testing.T) {
	bs := []*testcaddy.Backend{testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b"), testcaddy.StartBackend(t, "c")}
	c, reg := startKong(t)
	create(t, reg.CreateUpstream, map[string]any{"name": "users", "hash_on": "uri_capture", "hash_on_uri_capture": "user"})
	for _, b := range bs {
		if _, err := reg.CreateTarget(t.Context(), "users", map[string]any{"target": b.Addr}); err != nil {
			t.Fatal(err)
		}
	}
	create(t, reg.CreateService, map[string]any{"name": "users", "host": "users"})
	route(t, reg, "users", map[string]any{"paths": []any{`~/u/(?<user>\w+)`}})
	reached := map[string]bool{}
	for i := range 30 {
		path := fmt.Sprintf("/u/user%d/profile", i)
		first, _ := send(t, c, "GET", "", path)
		for range 3 {
			if again, _ := send(t, c, "GET", "", path); again.Header.Get("X-Backend") != first.Header.Get("X-Backend") {
				t.Fatalf("%s reached %s, then %s", path, first.Header.Get("X-Backend"), again.Header.Get("X-Backend"))
			}
		}
		reached[first.Header.Get("X-Backend")] = true
	}
	if len(reached) < 2 {
		t.Errorf("30 users all reached %v: the capture was not hashed", reached)
	}
}
