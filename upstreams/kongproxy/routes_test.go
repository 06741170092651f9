package kongproxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// service creates a host:port service named name, with path, in front of
// a new echo backend of the same name.
func service(t *testing.T, reg *upstreams.Registry, name, path string) string {
	t.Helper()
	host, port := hostPort(t, startEcho(t, name))
	in := map[string]any{"name": name, "host": host, "port": port}
	if path != "" {
		in["path"] = path
	}
	return create(t, reg.CreateService, in).ID
}

// route creates a route from Kong fields, attached to the named service.
func route(t *testing.T, reg *upstreams.Registry, serviceName string, fields map[string]any) {
	t.Helper()
	if serviceName != "" {
		fields["service"] = map[string]any{"name": serviceName}
	}
	create(t, reg.CreateRoute, fields)
}

// TestRouteMatching sends real requests through kong_proxy and checks
// which service each reached and what the service saw (path, Host).
func TestRouteMatching(t *testing.T) {
	c, reg := startKong(t)
	for _, s := range []struct{ name, path string }{
		{"api", "/"}, {"api-v1", "/base"}, {"items", ""}, {"items-high", ""}, {"wild", "/w/"},
		{"exact", ""}, {"post", ""}, {"header", ""}, {"legacy-v1", "/old"}, {"legacy-v0", "/old"},
	} {
		service(t, reg, s.name, s.path)
	}
	list := func(v ...string) []any {
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	}
	route(t, reg, "api", map[string]any{"paths": list("/api")})
	route(t, reg, "api-v1", map[string]any{"paths": list("/api/v1"), "strip_path": false})
	route(t, reg, "items", map[string]any{"paths": list(`~/items/(?<id>\d+)$`), "strip_path": false})
	route(t, reg, "items-high", map[string]any{"paths": list(`~/items/4\d*$`), "regex_priority": 5.0, "strip_path": false})
	route(t, reg, "wild", map[string]any{"hosts": list("*.shop.test"), "paths": list("/api"), "preserve_host": true})
	route(t, reg, "exact", map[string]any{"hosts": list("www.shop.test"), "paths": list("/api")})
	route(t, reg, "post", map[string]any{"methods": list("POST"), "paths": list("/api")})
	route(t, reg, "header", map[string]any{"headers": map[string]any{"X-Version": list("~*^v2")}, "paths": list("/api")})
	route(t, reg, "legacy-v1", map[string]any{"paths": list("/legacy/v1"), "path_handling": "v1"})
	route(t, reg, "legacy-v0", map[string]any{"paths": list("/legacy/v0")})

	for _, tc := range []struct {
		method, host, path string
		headers            []string
		backend, uri       string
	}{
		{"GET", "", "/api/users?page=2", nil, "api", "/users?page=2"},        // strip_path, query kept
		{"GET", "", "/api", nil, "api", "/"},                                 // service path "/"
		{"GET", "", "/api/v1/users", nil, "api-v1", "/base/api/v1/users"},    // longest prefix; no strip: service path + request path
		{"GET", "", "/items/12", nil, "items", "/items/12"},                  // regex
		{"GET", "", "/items/42", nil, "items-high", "/items/42"},             // higher regex_priority
		{"GET", "", "/items/12/x", nil, "-", ""},                             // regexes anchored by $
		{"GET", "a.shop.test", "/api/x", nil, "wild", "/w/x"},                // wildcard host; service path ending in /
		{"GET", "www.shop.test", "/api/v1/x", nil, "exact", "/v1/x"},         // plain host beats a longer prefix
		{"POST", "", "/api/v1", nil, "post", "/v1"},                          // method is a category
		{"GET", "", "/api/x", []string{"X-Version", "V2.1"}, "header", "/x"}, // ~* header regex, case-insensitive
		{"GET", "", "/legacy/v1/x", nil, "legacy-v1", "/old/x"},              // v1: service path + rest
		{"GET", "", "/legacy/v1x", nil, "legacy-v1", "/oldx"},                // v1 does not add a slash
		{"GET", "", "/legacy/v0x", nil, "legacy-v0", "/old/x"},               // v0 does
		{"GET", "", "/api//users/./me/../you", nil, "api", "/users/you"},     // normalized before matching
	} {
		if tc.backend == "-" {
			resp, body := send(t, c, tc.method, tc.host, tc.path, tc.headers...)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s%s: status %d %s, want 404", tc.method, tc.host, tc.path, resp.StatusCode, body)
			}
			continue
		}
		s := echoed(t, c, tc.method, tc.host, tc.path, tc.headers...)
		if s.Backend != tc.backend || s.URI != tc.uri {
			t.Errorf("%s %s%s %v: reached %s with %s, want %s with %s", tc.method, tc.host, tc.path, tc.headers, s.Backend, s.URI, tc.backend, tc.uri)
		}
	}
}

// TestUpstreamHeaders: the Host sent upstream (preserve_host, else the
// service's host:port) and Kong's X-Forwarded-* and request id headers.
func TestUpstreamHeaders(t *testing.T) {
	c, reg := startKong(t)
	service(t, reg, "plain", "")
	service(t, reg, "preserve", "")
	route(t, reg, "plain", map[string]any{"paths": []any{"/plain"}})
	route(t, reg, "preserve", map[string]any{"paths": []any{"/keep"}, "preserve_host": true, "strip_path": false})
	svc, _ := reg.Service("plain")
	target := svc.Host + ":" + jsonNumber(svc.Port)

	s := echoed(t, c, "GET", "client.test:8080", "/plain/x", "X-Forwarded-Prefix", "/spoofed", "X-Real-IP", "6.6.6.6")
	if s.Host != target {
		t.Errorf("without preserve_host the upstream saw Host %q, want the service's %q", s.Host, target)
	}
	for name, want := range map[string]string{
		"X-Forwarded-Host":   "client.test:8080",
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Path":   "/plain/x",
		"X-Forwarded-Prefix": "/plain",
		"X-Forwarded-Port":   jsonNumber(c.HTTPPort),
		"X-Real-IP":          "127.0.0.1",
	} {
		if got := s.Headers.Get(name); got != want {
			t.Errorf("upstream saw %s %q, want %q", name, got, want)
		}
	}
	if id := s.Headers.Get("X-Kong-Request-Id"); len(id) != 32 {
		t.Errorf("upstream saw X-Kong-Request-Id %q, want 32 hex digits", id)
	}
	if s := echoed(t, c, "GET", "client.test:8080", "/keep/x"); s.Host != "client.test:8080" || s.URI != "/keep/x" {
		t.Errorf("preserve_host: upstream saw Host %q URI %q, want client.test:8080 and /keep/x", s.Host, s.URI)
	}
	resp, _ := send(t, c, "GET", "", "/plain")
	if ms, err := strconv.Atoi(resp.Header.Get("X-Kong-Upstream-Latency")); err != nil || ms < 0 || len(resp.Header.Get("X-Kong-Request-Id")) != 32 {
		t.Errorf("response headers %v, want X-Kong-Upstream-Latency in whole milliseconds and X-Kong-Request-Id", resp.Header)
	}
}

// TestKongAnswers: the answers Kong gives without proxying.
func TestKongAnswers(t *testing.T) {
	c, reg := startKong(t)
	service(t, reg, "s", "")
	route(t, reg, "s", map[string]any{"paths": []any{"/secure"}, "protocols": []any{"https"}})
	route(t, reg, "s", map[string]any{"paths": []any{"/moved"}, "protocols": []any{"https"}, "https_redirect_status_code": 308.0})
	route(t, reg, "", map[string]any{"paths": []any{"/orphan"}})
	create(t, reg.CreateService, map[string]any{"name": "off", "host": "127.0.0.1", "port": 9.0, "enabled": false})
	route(t, reg, "off", map[string]any{"paths": []any{"/off"}})

	if _, err := reg.CreateRoute(t.Context(), map[string]any{"paths": []any{"~/a(?=b)"}}); err == nil || !strings.Contains(err.Error(), "invalid regex") {
		t.Errorf("a route with a lookahead: %v, want the schema's invalid regex", err)
	}
	resp, body := send(t, c, "GET", "shop.test", "/secure/x")
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "TLS/1.2, HTTP/1.1" || message(body) != "Please use HTTPS protocol" {
		t.Errorf("http to an https route: %d %v %s, want Kong's 426", resp.StatusCode, resp.Header, body)
	}
	resp, _ = send(t, c, "GET", "shop.test", "/moved/x?a=1")
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://shop.test/moved/x?a=1" {
		t.Errorf("https_redirect_status_code 308: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = send(t, c, "GET", "", "/orphan")
	if resp.StatusCode != http.StatusServiceUnavailable || message(body) != "no Service found with those values" {
		t.Errorf("route without service: %d %s, want 503", resp.StatusCode, body)
	}
	resp, body = send(t, c, "GET", "", "/off")
	if resp.StatusCode != http.StatusNotFound || message(body) != "no Route matched with those values" {
		t.Errorf("route of a disabled service: %d %s, want 404 (Kong leaves such routes out)", resp.StatusCode, body)
	}
	resp, body = send(t, c, "GET", "", "/nothing")
	if resp.StatusCode != http.StatusNotFound || message(body) != "no Route matched with those values" {
		t.Errorf("no route: %d %s, want 404", resp.StatusCode, body)
	}
}

// TestChangesApplyToTheNextRequest: routes and services created, changed
// and deleted at runtime route the very next request, without a reload.
func TestChangesApplyToTheNextRequest(t *testing.T) {
	c, reg := startKong(t)
	if resp, _ := send(t, c, "GET", "", "/new/x"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("before: status %d, want 404", resp.StatusCode)
	}
	id := service(t, reg, "new", "/v1")
	route(t, reg, "new", map[string]any{"name": "r", "paths": []any{"/new"}})
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v1/x" {
		t.Fatalf("after create: upstream saw %s, want /v1/x", s.URI)
	}
	if _, err := reg.UpdateService(t.Context(), id, map[string]any{"path": "/v2"}); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v2/x" {
		t.Fatalf("after the service's update: upstream saw %s, want /v2/x", s.URI)
	}
	if _, err := reg.UpdateRoute(t.Context(), "r", map[string]any{"strip_path": false}); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v2/new/x" {
		t.Fatalf("after the route's update: upstream saw %s, want /v2/new/x", s.URI)
	}
	if err := reg.DeleteRoute(t.Context(), "r"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(t, c, "GET", "", "/new/x"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after delete: status %d, want 404", resp.StatusCode)
	}
}

func message(body []byte) string {
	var m struct{ Message string }
	json.Unmarshal(body, &m)
	return m.Message
}

func jsonNumber(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestFallthrough: with fallthrough, unmatched requests reach the next
// handler; matched ones are still proxied.
func TestFallthrough(t *testing.T) {
	c := testcaddy.New(t)
	c.Load(t, strings.Replace(kongConfig, "kong_proxy\n", "kong_proxy {\n\t\tfallthrough\n\t}\n\trespond \"not a route\" 418\n", 1),
		"{DB}", filepath.Join(t.TempDir(), "registry.db"))
	reg := upstreams.ActiveRegistry()
	service(t, reg, "s", "")
	route(t, reg, "s", map[string]any{"paths": []any{"/s"}})
	if resp, body := send(t, c, "GET", "", "/other"); resp.StatusCode != http.StatusTeapot || string(body) != "not a route" {
		t.Errorf("unmatched: %d %q, want the next handler's 418", resp.StatusCode, body)
	}
	if s := echoed(t, c, "GET", "", "/s/x"); s.Backend != "s" {
		t.Errorf("matched: reached %s, want s", s.Backend)
	}
}

// TestChangesUnderLoad: while 4 clients send requests, the route's
// service is changed 40 times (a new path each time, so a new proxy);
// every request is answered 200 by a live service, none is dropped by a
// rebuild of the router or of a service's proxy.
func TestChangesUnderLoad(t *testing.T) {
	c, reg := startKong(t)
	id := service(t, reg, "moving", "/v0")
	route(t, reg, "moving", map[string]any{"paths": []any{"/m"}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/m/x", c.HTTPPort))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	for i := range 40 {
		if _, err := reg.UpdateService(t.Context(), id, map[string]any{"path": fmt.Sprintf("/v%d", i+1)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d requests during 40 service changes in %v, %d failed", sent.Load(), time.Since(start).Round(time.Millisecond), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed while the service changed", failed.Load(), sent.Load())
	}
	if s := echoed(t, c, "GET", "", "/m/x"); s.URI != "/v40/x" {
		t.Errorf("after the changes: upstream saw %s, want /v40/x", s.URI)
	}
}

// TestReload: a config reload replaces the handler (its watcher and
// proxies are cleaned up) and the registry's routes keep routing.
func TestReload(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, kongConfig, "{DB}", db)
	reg := upstreams.ActiveRegistry()
	service(t, reg, "kept", "")
	route(t, reg, "kept", map[string]any{"paths": []any{"/kept"}})
	for i := range 3 {
		if s := echoed(t, c, "GET", "", "/kept/x"); s.Backend != "kept" {
			t.Fatalf("after %d reloads: reached %s", i, s.Backend)
		}
		c.Load(t, kongConfig, "{DB}", db)
	}
}

// TestHTTPSOnlyBehindTrustedProxy: X-Forwarded-Proto from a proxy in
// Caddy's trusted_proxies counts as the client's scheme (Kong trusts it
// from trusted_ips); from anyone else it is ignored.
func TestHTTPSOnlyBehindTrustedProxy(t *testing.T) {
	c := testcaddy.New(t)
	config := strings.Replace(kongConfig, "\tupstreams {", "\tservers {\n\t\ttrusted_proxies static {TRUSTED}\n\t}\n\tupstreams {", 1)
	c.Load(t, config, "{DB}", filepath.Join(t.TempDir(), "registry.db"), "{TRUSTED}", "127.0.0.1/32")
	reg := upstreams.ActiveRegistry()
	service(t, reg, "s", "")
	route(t, reg, "s", map[string]any{"paths": []any{"/secure"}, "protocols": []any{"https"}})
	if s := echoed(t, c, "GET", "", "/secure", "X-Forwarded-Proto", "https"); s.Headers.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want https", s.Headers.Get("X-Forwarded-Proto"))
	}
	if resp, _ := send(t, c, "GET", "", "/secure"); resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("without X-Forwarded-Proto: status %d, want 426", resp.StatusCode)
	}
	c.Load(t, config, "{DB}", filepath.Join(t.TempDir(), "registry2.db"), "{TRUSTED}", "10.0.0.0/8")
	reg = upstreams.ActiveRegistry()
	service(t, reg, "s", "")
	route(t, reg, "s", map[string]any{"paths": []any{"/secure"}, "protocols": []any{"https"}})
	if resp, _ := send(t, c, "GET", "", "/secure", "X-Forwarded-Proto", "https"); resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("X-Forwarded-Proto from an untrusted client: status %d, want 426", resp.StatusCode)
	}
}
