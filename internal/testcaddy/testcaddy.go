// Package testcaddy runs a real Caddy in-process for tests, with the
// project's modules, and real HTTP backends on 127.0.0.1.
package testcaddy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // standard modules, as in cmd/caddy

	_ "github.com/caddy-upstreams/caddy-upstreams" // all project modules
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// Setup points Caddy's data and config directories at a temporary
// directory so tests never touch the user's; call it from TestMain.
func Setup() (cleanup func()) {
	dir, err := os.MkdirTemp("", "caddy-upstreams-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	os.MkdirAll(caddy.AppDataDir(), 0o700)
	// hostname targets of tests that configure no resolver are looked up
	// on loopback only (nothing answers there, so lookups fail at once),
	// never at the machine's nameservers
	upstreams.DefaultResolver = json.RawMessage(`{"module":"dns","addresses":["127.0.0.1:53"]}`)
	return func() { os.RemoveAll(dir) }
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Backend is a real HTTP server on 127.0.0.1 that answers with its name
// and counts the requests it served.
type Backend struct {
	Name   string
	Addr   string // host:port
	Hits   atomic.Int64
	server *http.Server
	ln     net.Listener
	// Delay, if set, is slept before answering.
	Delay atomic.Int64
	// Status, if set, is the status code the backend answers with.
	Status atomic.Int64
}

// StartBackend starts a backend; it is stopped when the test ends.
func StartBackend(t testing.TB, name string) *Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveBackend(t, name, ln)
}

// serveBackend serves a backend on ln until the test ends.
func serveBackend(t testing.TB, name string, ln net.Listener) *Backend {
	b := &Backend{Name: name, Addr: ln.Addr().String(), ln: ln}
	b.server = &http.Server{Handler: b.handler(), ReadHeaderTimeout: 5 * time.Second}
	go b.server.Serve(ln)
	t.Cleanup(b.Close)
	return b
}

// Close stops the backend.
func (b *Backend) Close() { b.server.Close() }

// Caddy is an in-process Caddy instance started by Load.
type Caddy struct {
	AdminPort int
	HTTPPort  int
}

// Adapt turns a Caddyfile into JSON config.
func Adapt(t testing.TB, caddyfile string) []byte {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfg, warnings, err := adapter.Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfile)
	}
	for _, w := range warnings {
		t.Logf("caddyfile warning: %s", w.String())
	}
	return cfg
}

// Expand replaces {ADMIN} and {HTTP} in a Caddyfile template with the
// instance's ports and the given extra replacements (old, new pairs).
func (c *Caddy) Expand(tmpl string, pairs ...string) string {
	all := append([]string{"{ADMIN}", fmt.Sprint(c.AdminPort), "{HTTP}", fmt.Sprint(c.HTTPPort)}, pairs...)
	return strings.NewReplacer(all...).Replace(tmpl)
}

// New picks ports for a Caddy instance; nothing runs until Load.
func New(t testing.TB) *Caddy {
	return &Caddy{AdminPort: FreePort(t), HTTPPort: FreePort(t)}
}

// Load (re)loads the instance with a Caddyfile template (see Expand) and
// registers caddy.Stop for the end of the test on the first load.
func (c *Caddy) Load(t testing.TB, tmpl string, pairs ...string) {
	t.Helper()
	cfg := Adapt(t, c.Expand(tmpl, pairs...))
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading config: %v", err)
	}
	t.Cleanup(func() { caddy.Stop() })
}

// Get sends a GET to the instance's HTTP port and returns status and body.
func (c *Caddy) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := Client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", c.HTTPPort, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// GetAfterReload is Get for the first request after a config reload. Caddy
// binds its listeners with SO_REUSEPORT, so for a moment the old config's
// socket and the new one share the port, and a connection the kernel gave
// the old socket is reset when it closes: such a transport error is retried
// (at most 5 times), any HTTP answer is returned as it is.
func (c *Caddy) GetAfterReload(t testing.TB, path string) (int, string) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", c.HTTPPort, path)
	var err error
	for try := 0; try < 5; try++ {
		var resp *http.Response
		if resp, err = Client.Get(url); err == nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s after reload: %v", path, err)
	return 0, ""
}

// Admin sends a request to Caddy's admin endpoint.
func (c *Caddy) Admin(t testing.TB, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", c.AdminPort, path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// AdminJSON sends a request with a JSON body (none when body is "") to
// Caddy's admin endpoint, fails the test unless it answers status, and
// returns the decoded JSON object it answered (nil for an empty answer).
func (c *Caddy) AdminJSON(t testing.TB, method, path, body string, status int) map[string]any {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	got, raw := c.Admin(t, method, path, contentType, []byte(body))
	if got != status {
		t.Fatalf("%s %s: status %d (%s), want %d", method, path, got, raw, status)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, raw)
	}
	return out
}

// Client is an HTTP client for tests: bounded time, no proxy from the
// environment, connections to loopback only.
var Client = &http.Client{
	Timeout: 10 * time.Second,
	Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 64,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

// GlobalOptions are the Caddyfile global options every test config starts
// with: admin on the instance's port, every site on loopback only (so a
// kong_admin site needs no token), no automatic HTTPS, fast shutdown.
const GlobalOptions = `
	admin localhost:{ADMIN}
	default_bind 127.0.0.1
	auto_https off
	skip_install_trust
	grace_period 1ns
	persist_config off
	log {
		level ERROR
	}
`

// Main is a TestMain body: it runs the package's tests with Caddy's
// directories in a temporary directory (see Setup) and exits. In a child
// process started by StartProcess it runs Caddy instead of the tests.
func Main(m *testing.M) {
	runChildIfAsked()
	cleanup := Setup()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// StartBackendAt starts a backend on a given address (to restart one that
// was closed); it is stopped when the test ends.
func StartBackendAt(t testing.TB, name, addr string) *Backend {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger briefly
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	return serveBackend(t, name, ln)
}

// handler answers with the backend's name and the request path.
func (b *Backend) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.Hits.Add(1)
		if d := b.Delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		w.Header().Set("X-Backend", b.Name)
		if s := b.Status.Load(); s != 0 {
			w.WriteHeader(int(s))
		}
		fmt.Fprintf(w, "%s %s", b.Name, r.URL.Path)
	})
}
