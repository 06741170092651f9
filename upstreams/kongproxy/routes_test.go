package kongproxy_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

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

func jsonNumber(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
