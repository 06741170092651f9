package kongproxy_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

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

func message(body []byte) string {
	var m struct{ Message string }
	json.Unmarshal(body, &m)
	return m.Message
}
