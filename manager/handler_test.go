package manager_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// TestServesPageAndAPI checks the two halves of the handler: the embedded
// page, with a policy that keeps the browser on the listener's own
// origin, and the Admin API under /api/ answering as on kong_admin.
func TestServesPageAndAPI(t *testing.T) {
	s := startSeed(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := testcaddy.Client.Get(s.manager + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script type="module" src="js/app.js">`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("GET /: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	if resp, _ := get("/js/app.js"); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /js/app.js: %d %q, want a JavaScript module", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = get("/api/upstreams/upstream-example")
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"upstream-example"`) || !strings.HasPrefix(resp.Header.Get("Server"), "kong/") {
		t.Errorf("GET /api/upstreams/upstream-example: %d %s", resp.StatusCode, body)
	}
	if resp, body := get("/api/nothing"); resp.StatusCode != 404 || body != `{"message":"Not found"}` {
		t.Errorf("GET /api/nothing: %d %s, want Kong's 404", resp.StatusCode, body)
	}
}

// TestAPIMountIsGuarded checks that the page's Admin API mount has
// kong_admin's guard: a cross-origin form POST (a CORS simple request any
// web page can send) is refused and writes nothing, a DNS-rebinding Host
// is refused, and the page's own origin may write.
func TestAPIMountIsGuarded(t *testing.T) {
	s := startSeed(t)
	post := func(origin, host, target string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.manager+"/api/upstreams/upstream-example/targets",
			strings.NewReader("target="+target))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := testcaddy.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("http://evil.example", "", "127.0.0.1:7001"); got != 403 {
		t.Errorf("cross-origin POST: %d, want 403", got)
	}
	if got := post("", "evil.example", "127.0.0.1:7002"); got != 403 {
		t.Errorf("POST with a foreign Host: %d, want 403", got)
	}
	resp, err := testcaddy.Client.Get(s.manager + "/api/upstreams/upstream-example/targets")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "127.0.0.1:700") {
		t.Fatalf("a refused write was applied: %s", body)
	}
	if got := post(s.manager, "", "127.0.0.1:7003"); got != 201 {
		t.Errorf("same-origin POST: %d, want 201", got)
	}
}
