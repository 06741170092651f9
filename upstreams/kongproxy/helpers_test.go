package kongproxy_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// kongConfig serves kong_proxy on the HTTP port, for any Host (the site
// has no host, so Caddy adds no host matcher), on loopback only.
const kongConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	kong_proxy
}
`

// startKong starts Caddy with kong_proxy and returns its registry.
func startKong(t *testing.T) (*testcaddy.Caddy, *upstreams.Registry) {
	t.Helper()
	c := testcaddy.New(t)
	c.Load(t, kongConfig, "{DB}", filepath.Join(t.TempDir(), "registry.db"))
	return c, upstreams.ActiveRegistry()
}

// create calls a registry create method and fails the test on error.
func create[T any](t *testing.T, fn func(context.Context, map[string]any) (T, error), in map[string]any) T {
	t.Helper()
	v, err := fn(context.Background(), in)
	if err != nil {
		t.Fatalf("creating %v: %v", in, err)
	}
	return v
}

// seen is what an echo backend received.
type seen struct {
	Backend string      `json:"backend"`
	Host    string      `json:"host"`
	URI     string      `json:"uri"`
	Headers http.Header `json:"headers"`
}

// startEcho starts a backend on 127.0.0.1 answering with what it
// received, as JSON; it stops when the test ends.
func startEcho(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveEcho(t, name, ln)
}

// startTLSEcho is startEcho over TLS, with a self-signed certificate.
func startTLSEcho(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // only for its certificate
	cert := srv.TLS.Certificates
	srv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: cert})
	if err != nil {
		t.Fatal(err)
	}
	return serveEcho(t, name, ln)
}

// serveEcho serves the echo backend on ln until the test ends.
func serveEcho(t *testing.T, name string, ln net.Listener) string {
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{Backend: name, Host: r.Host, URI: r.RequestURI, Headers: r.Header})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// send sends a request to Caddy with the given Host (if not "") and
// headers, and returns the response with its body read.
func send(t *testing.T, c *testcaddy.Caddy, method, host, path string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", c.HTTPPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// client is the tests' client; it does not follow redirects (their
// hosts are made up).
var client = &http.Client{
	Timeout:       testcaddy.Client.Timeout,
	Transport:     testcaddy.Client.Transport,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// echoed sends a request that must reach an echo backend and returns
// what the backend saw.
func echoed(t *testing.T, c *testcaddy.Caddy, method, host, path string, headers ...string) seen {
	t.Helper()
	resp, body := send(t, c, method, host, path, headers...)
	var s seen
	if resp.StatusCode != 200 || json.Unmarshal(body, &s) != nil {
		t.Fatalf("%s %s%s: status %d, body %s", method, host, path, resp.StatusCode, body)
	}
	return s
}

// hostPort splits a backend address for a service's host and port.
func hostPort(t *testing.T, addr string) (string, float64) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var p float64
	fmt.Sscan(port, &p)
	return host, p
}
