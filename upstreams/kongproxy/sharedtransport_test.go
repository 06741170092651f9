package kongproxy_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// connBackend is a backend that tells which services' requests each of
// its connections carried (by the path the service prepends) and how many
// connections are open.
type connBackend struct {
	addr string
	open atomic.Int64

	mu       sync.Mutex
	services map[int64]map[string]bool // connection number → service paths seen on it
}

type connKey struct{}

// startConnBackend starts a connBackend on 127.0.0.1 until the test ends.
func startConnBackend(t *testing.T) *connBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &connBackend{addr: ln.Addr().String(), services: map[int64]map[string]bool{}}
	var conns atomic.Int64
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, conns.Add(1))
		},
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				b.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				b.open.Add(-1)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := r.Context().Value(connKey{}).(int64)
			b.mu.Lock()
			if b.services[n] == nil {
				b.services[n] = map[string]bool{}
			}
			b.services[n][r.URL.Path] = true
			b.mu.Unlock()
			w.Write([]byte("ok"))
		}),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// carriedBoth reports whether one connection carried requests of both
// services (by the path each sends).
func (b *connBackend) carriedBoth(p, q string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, seen := range b.services {
		if seen[p] && seen[q] {
			return true
		}
	}
	return false
}

// TestServicesShareTransports: two services with the same transport
// settings send their requests over the same connections to a backend
// (one transport, one connection pool per address), a service with
// another read_timeout over its own; a reload releases the old handler's
// transports, closing their idle connections.
func TestServicesShareTransports(t *testing.T) {
	b := startConnBackend(t)
	host, port := hostPort(t, b.addr)
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, kongConfig, "{DB}", db)
	reg := upstreams.ActiveRegistry()
	for _, s := range []struct {
		name   string
		fields map[string]any
	}{
		{"a", map[string]any{}},
		{"b", map[string]any{}},
		{"slow", map[string]any{"read_timeout": 30000.0}},
	} {
		s.fields["name"], s.fields["host"], s.fields["port"], s.fields["path"] = s.name, host, port, "/"+s.name
		create(t, reg.CreateService, s.fields)
		route(t, reg, s.name, map[string]any{"paths": []any{"/" + s.name}})
	}
	for range 20 {
		for _, name := range []string{"a", "b", "slow"} {
			if resp, body := send(t, c, "GET", "", "/"+name); resp.StatusCode != 200 {
				t.Fatalf("/%s: %d %s", name, resp.StatusCode, body)
			}
		}
	}
	if !b.carriedBoth("/a", "/b") {
		t.Errorf("no connection carried requests of both services with equal settings: they do not share a transport")
	}
	if b.carriedBoth("/a", "/slow") || b.carriedBoth("/b", "/slow") {
		t.Errorf("a connection carried requests of services with different read_timeouts: they share a transport")
	}
	if b.open.Load() == 0 {
		t.Fatalf("no idle connection left open to the backend before the reload")
	}
	c.Load(t, kongConfig, "{DB}", db)
	testcaddy.WaitFor(t, 5*time.Second, "the replaced handler's idle connections to close", func() bool { return b.open.Load() == 0 })
	if resp, body := send(t, c, "GET", "", "/a"); resp.StatusCode != 200 {
		t.Fatalf("after the reload: /a: %d %s", resp.StatusCode, body)
	}
}
