package admin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-upstreams/caddy-upstreams/admin"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// guardedConfig serves kong_admin on a site that matches every Host, bound
// to loopback as Kong's admin_listen, with {OPTIONS} in its block, and
// routes the audit logger to the file {AUDIT} as JSON.
const guardedConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
	}
	log audit {
		output file {AUDIT}
		format json
		include upstreams.admin.audit
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	kong_admin {
		{OPTIONS}
	}
}
`

// guarded is a Caddy serving guardedConfig.
type guarded struct {
	c     *testcaddy.Caddy
	base  string
	audit string // the audit log file
	db    string
}

func startGuarded(t *testing.T, options string) *guarded {
	t.Helper()
	dir := t.TempDir()
	g := &guarded{c: testcaddy.New(t), audit: filepath.Join(dir, "audit.log"), db: filepath.Join(dir, "r.db")}
	g.base = fmt.Sprintf("http://127.0.0.1:%d", g.c.HTTPPort)
	g.load(t, options)
	return g
}

func (g *guarded) load(t *testing.T, options string) {
	t.Helper()
	g.c.Load(t, guardedConfig, "{DB}", g.db, "{AUDIT}", g.audit, "{OPTIONS}", options)
}

// send sends a request with the given headers ("Host" sets the Host).
func (g *guarded) send(t *testing.T, method, path, contentType string, body []byte, headers ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

// upstreamNames lists the upstreams' names, read without Origin.
func (g *guarded) upstreamNames(t *testing.T, headers ...string) []string {
	t.Helper()
	status, body, _ := g.send(t, "GET", "/upstreams", "", nil, headers...)
	if status != 200 {
		t.Fatalf("GET /upstreams: %d %s", status, body)
	}
	var page struct{ Data []struct{ Name string } }
	json.Unmarshal([]byte(body), &page)
	var names []string
	for _, u := range page.Data {
		names = append(names, u.Name)
	}
	return names
}

// auditLines reads the audit log's JSON lines.
func (g *guarded) auditLines(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func multipartBody(fields ...string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// TestCrossOriginWritesRefused: the simple requests any web page can send
// (a form POST, url-encoded or multipart) are refused with 403 and write
// nothing; the API's own origin and requests without Origin pass.
func TestCrossOriginWritesRefused(t *testing.T) {
	g := startGuarded(t, "")
	form := []byte(url.Values{"name": {"from-evil"}}.Encode())
	multi, multiType := multipartBody("name", "from-evil-multipart")
	for _, origin := range []string{"http://evil.example", "null", "http://127.0.0.1:1"} {
		status, body, _ := g.send(t, "POST", "/upstreams", "application/x-www-form-urlencoded", form, "Origin", origin)
		if want := `{"message":"Origin not allowed: ` + origin + `"}`; status != 403 || body != want {
			t.Fatalf("form POST from %s: %d %s, want 403 %s", origin, status, body, want)
		}
		if status, body, _ := g.send(t, "POST", "/upstreams", multiType, multi, "Origin", origin); status != 403 {
			t.Fatalf("multipart POST from %s: %d %s", origin, status, body)
		}
		if status, body, _ := g.send(t, "DELETE", "/upstreams/x", "", nil, "Origin", origin); status != 403 {
			t.Fatalf("DELETE from %s: %d %s", origin, status, body)
		}
	}
	if names := g.upstreamNames(t); len(names) != 0 {
		t.Fatalf("cross-origin requests wrote %v", names)
	}
	// the API's own origin (a page it serves) and a client without Origin
	if status, body, hdr := g.send(t, "POST", "/upstreams", "application/x-www-form-urlencoded", []byte("name=same-origin"), "Origin", g.base); status != 201 ||
		hdr.Get("Access-Control-Allow-Origin") != g.base {
		t.Fatalf("same-origin POST: %d %s %v", status, body, hdr)
	}
	if status, body, _ := g.send(t, "POST", "/upstreams", "application/x-www-form-urlencoded", []byte("name=curl")); status != 201 {
		t.Fatalf("POST without Origin: %d %s", status, body)
	}
	if names := g.upstreamNames(t); strings.Join(names, ",") != "curl,same-origin" && strings.Join(names, ",") != "same-origin,curl" {
		t.Fatalf("upstreams %v, want curl and same-origin", names)
	}
}

// TestDNSRebindingHostRefused: on a loopback listener, a Host that is not
// one of the listener's names is refused, even when the Origin matches it
// (a rebinding page is "same-origin" with its own name); the listener's
// names and configured hosts pass.
func TestDNSRebindingHostRefused(t *testing.T) {
	g := startGuarded(t, "allowed_hosts admin.internal")
	port := g.c.HTTPPort
	evil := fmt.Sprintf("evil.example:%d", port)
	status, body, _ := g.send(t, "GET", "/upstreams", "", nil, "Host", evil)
	if want := `{"message":"Host not allowed: ` + evil + `"}`; status != 403 || body != want {
		t.Fatalf("rebinding GET: %d %s, want 403 %s", status, body, want)
	}
	if status, body, _ := g.send(t, "POST", "/upstreams", "application/x-www-form-urlencoded", []byte("name=rebound"),
		"Host", evil, "Origin", "http://"+evil); status != 403 {
		t.Fatalf("rebinding POST: %d %s", status, body)
	}
	for _, host := range []string{fmt.Sprintf("localhost:%d", port), fmt.Sprintf("[::1]:%d", port), fmt.Sprintf("127.0.0.1:%d", port), "admin.internal:8443"} {
		if names := g.upstreamNames(t, "Host", host); len(names) != 0 {
			t.Fatalf("Host %s: upstreams %v", host, names)
		}
	}
}

// TestAllowedOriginGetsCORS: a page on an allowed origin gets its
// preflight answered (without a token) and CORS headers on the request
// itself, which still needs the token.
func TestAllowedOriginGetsCORS(t *testing.T) {
	g := startGuarded(t, "token s3cret\n\t\tallowed_origins https://manager.example http://localhost:3000")
	const origin = "https://manager.example"
	status, body, hdr := g.send(t, "OPTIONS", "/upstreams", "", nil, "Origin", origin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,kong-admin-token")
	if status != 204 || body != "" {
		t.Fatalf("preflight: %d %s", status, body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":      origin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, HEAD, OPTIONS, POST",
		"Access-Control-Allow-Headers":     "content-type,kong-admin-token",
		"Vary":                             "Origin",
	} {
		if hdr.Get(k) != want {
			t.Fatalf("preflight %s: %q, want %q (%v)", k, hdr.Get(k), want, hdr)
		}
	}
	if status, _, _ := g.send(t, "POST", "/upstreams", "application/json", []byte(`{"name":"m"}`), "Origin", origin); status != 401 {
		t.Fatalf("POST from an allowed origin without the token: %d, want 401", status)
	}
	status, body, hdr = g.send(t, "POST", "/upstreams", "application/json", []byte(`{"name":"m"}`), "Origin", origin, "Kong-Admin-Token", "s3cret")
	if status != 201 || hdr.Get("Access-Control-Allow-Origin") != origin || hdr.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("POST from an allowed origin: %d %s %v", status, body, hdr)
	}
	// another origin's preflight is refused, and no CORS header tells it otherwise
	status, _, hdr = g.send(t, "OPTIONS", "/upstreams", "", nil, "Origin", "https://other.example", "Access-Control-Request-Method", "POST")
	if status != 403 || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", status, hdr)
	}
}

// TestKongOptionsAndLatencyHeaders: OPTIONS answers as Kong's specs assert
// (02-kong_routes_spec, 09-routes_routes_spec), and every Admin API
// response, refusals included, carries X-Kong-Admin-Latency.
func TestKongOptionsAndLatencyHeaders(t *testing.T) {
	g := startGuarded(t, "")
	status, body, hdr := g.send(t, "OPTIONS", "/routes", "", nil)
	if status != 204 || body != "" {
		t.Fatalf("OPTIONS /routes: %d %s", status, body)
	}
	for k, want := range map[string]string{
		"Allow":                        "GET, HEAD, OPTIONS, POST",
		"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS, POST",
		"Access-Control-Allow-Headers": "Content-Type",
		"Access-Control-Allow-Origin":  "*",
	} {
		if hdr.Get(k) != want {
			t.Fatalf("OPTIONS /routes %s: %q, want %q", k, hdr.Get(k), want)
		}
	}
	for _, req := range [][]string{{"OPTIONS", "/routes"}, {"GET", "/"}, {"GET", "/nothing"}, {"POST", "/upstreams", "Origin", "http://evil.example"}} {
		_, _, hdr := g.send(t, req[0], req[1], "", nil, req[2:]...)
		if hdr.Get("X-Kong-Admin-Latency") == "" || len(hdr.Values("X-Kong-Admin-Latency")) != 1 {
			t.Fatalf("%s %s: X-Kong-Admin-Latency %q", req[0], req[1], hdr.Values("X-Kong-Admin-Latency"))
		}
	}
	resp, err := testcaddy.Client.Get(fmt.Sprintf("http://localhost:%d/kong/status", g.c.AdminPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Kong-Admin-Latency") == "" {
		t.Fatalf("GET /kong/status: %d, X-Kong-Admin-Latency %q", resp.StatusCode, resp.Header.Get("X-Kong-Admin-Latency"))
	}
}

// TestCaddyAdminMountRefusesCrossOrigin: the /kong/ mount keeps Caddy's
// admin endpoint's Origin check: a cross-origin form POST writes nothing.
func TestCaddyAdminMountRefusesCrossOrigin(t *testing.T) {
	g := startGuarded(t, "")
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://localhost:%d/kong/upstreams", g.c.AdminPort), strings.NewReader("name=via-evil"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin POST /kong/upstreams: %d, want 403", resp.StatusCode)
	}
	if names := g.upstreamNames(t); len(names) != 0 {
		t.Fatalf("the refused POST wrote %v", names)
	}
}

// publicSite is a kong_admin site on every interface, with {OPTIONS}.
const publicSite = `{` + testcaddy.GlobalOptions + `}
http://:{HTTP} {
	bind 0.0.0.0
	kong_admin {
		{OPTIONS}
	}
}
`

// TestPublicListenerNeedsTokenOrPublic: a kong_admin listener on every
// interface without a token is a config error naming the fixes (a
// running config stays); with a token, or `public` stated, it loads.
func TestPublicListenerNeedsTokenOrPublic(t *testing.T) {
	g := startGuarded(t, "")
	cfg := testcaddy.Adapt(t, g.c.Expand(publicSite, "{OPTIONS}", ""))
	err := caddy.Load(cfg, true)
	if err == nil {
		t.Fatal("a public kong_admin listener without a token loaded")
	}
	for _, want := range []string{
		fmt.Sprintf("kong_admin would serve the Admin API without a token on server srv0 (0.0.0.0:%d), which is not loopback-only", g.c.HTTPPort),
		"bind the site to loopback (`bind 127.0.0.1`)", "set a token (`token {env.KONG_ADMIN_TOKEN}`)", "state `public`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	if names := g.upstreamNames(t); names != nil {
		t.Fatalf("the running config changed: %v", names)
	}
	// Caddy's default, no bind at all, is every interface too
	noBind := strings.Replace(g.c.Expand(publicSite, "{OPTIONS}", ""), "\tbind 0.0.0.0\n", "", 1)
	noBind = strings.Replace(noBind, "default_bind 127.0.0.1", "", 1)
	if err := caddy.Validate(mustUnmarshal(t, testcaddy.Adapt(t, noBind))); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("(:%d)", g.c.HTTPPort)) {
		t.Fatalf("kong_admin on :port without bind: %v", err)
	}
	// validated (provisioned, not started): nothing listens on every interface
	t.Setenv("CADDY_UPSTREAMS_CI_TOKEN", "s3cret")
	for _, options := range []string{"public", "token s3cret", "token ci {env.CADDY_UPSTREAMS_CI_TOKEN}"} {
		cfg := testcaddy.Adapt(t, g.c.Expand(publicSite, "{OPTIONS}", options))
		if err := caddy.Validate(mustUnmarshal(t, cfg)); err != nil {
			t.Fatalf("public listener with %q: %v", options, err)
		}
	}
}

func mustUnmarshal(t *testing.T, raw []byte) *caddy.Config {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// TestTokenRotation: two named tokens work at once, one read from a file;
// after a reload without the old one, only the new one does.
func TestTokenRotation(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "new.token")
	if err := os.WriteFile(tokenFile, []byte("new-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CADDY_UPSTREAMS_OLD_TOKEN", "old-s3cret")
	g := startGuarded(t, "token old {env.CADDY_UPSTREAMS_OLD_TOKEN}\n\t\ttoken new {file."+tokenFile+"}")
	get := func(token string) int {
		status, _, _ := g.send(t, "GET", "/upstreams", "", nil, "Kong-Admin-Token", token)
		return status
	}
	if get("old-s3cret") != 200 || get("new-s3cret") != 200 || get("") != 401 {
		t.Fatalf("both tokens: old %d new %d none %d", get("old-s3cret"), get("new-s3cret"), get(""))
	}
	g.load(t, "token new {file."+tokenFile+"}")
	if get("old-s3cret") != 401 || get("new-s3cret") != 200 {
		t.Fatalf("after rotation: old %d new %d", get("old-s3cret"), get("new-s3cret"))
	}
}

// TestFailedTokensThrottled: after the configured burst of wrong tokens,
// the address gets 429 with Retry-After, even with the right token; each
// failure is logged with the remote address.
func TestFailedTokensThrottled(t *testing.T) {
	g := startGuarded(t, "token s3cret\n\t\ttoken_failure_limit 3 1h")
	for i := 0; i < 3; i++ {
		if status, body, _ := g.send(t, "GET", "/upstreams", "", nil, "Kong-Admin-Token", fmt.Sprint("guess", i)); status != 401 {
			t.Fatalf("wrong token %d: %d %s", i, status, body)
		}
	}
	for _, token := range []string{"guess", "s3cret"} {
		status, body, hdr := g.send(t, "GET", "/upstreams", "", nil, "Kong-Admin-Token", token)
		if status != 429 || body != `{"message":"API rate limit exceeded"}` || hdr.Get("Retry-After") == "" {
			t.Fatalf("token %q after the burst: %d %s Retry-After %q", token, status, body, hdr.Get("Retry-After"))
		}
	}
	refused := 0
	for _, l := range g.auditLines(t) {
		if l["msg"] == "admin request refused" && l["level"] == "warn" && strings.HasPrefix(fmt.Sprint(l["remote_addr"]), "127.0.0.1:") {
			refused++
		}
		if strings.Contains(fmt.Sprint(l), "guess") || strings.Contains(fmt.Sprint(l), "s3cret") {
			t.Fatalf("an audit line holds a token: %v", l)
		}
	}
	if refused != 5 {
		t.Fatalf("%d refusals logged with the remote address, want 5", refused)
	}
}

// TestAuditLinePerWrite: every write, successful or not, is one info line
// on upstreams.admin.audit (routed to a file by Caddy's log config) with
// method, path, kind, id, remote address, token name and status; reads
// are not logged, and neither are bodies nor token values.
func TestAuditLinePerWrite(t *testing.T) {
	g := startGuarded(t, "token ci s3cret")
	tok := []string{"Kong-Admin-Token", "s3cret"}
	write := func(method, path, contentType, body string, want int) string {
		t.Helper()
		status, out, _ := g.send(t, method, path, contentType, []byte(body), tok...)
		if status != want {
			t.Fatalf("%s %s: %d %s", method, path, status, out)
		}
		var e struct{ ID string }
		json.Unmarshal([]byte(out), &e)
		return e.ID
	}
	upID := write("POST", "/upstreams", "application/json", `{"name":"audited","tags":["body-marker"]}`, 201)
	targetID := write("POST", "/upstreams/audited/targets", "application/x-www-form-urlencoded", "target=127.0.0.1:9&weight=5", 201)
	write("GET", "/upstreams/audited", "", "", 200)
	write("PATCH", "/upstreams/audited", "application/json", `{"slots":20}`, 200)
	write("POST", "/upstreams", "application/json", `{"name":"bad name!"}`, 400)
	write("DELETE", "/upstreams/audited/targets/127.0.0.1:9", "", "", 204)
	if status, body := g.c.Admin(t, "POST", "/kong/upstreams", "application/json", []byte(`{"name":"via-caddy-admin"}`)); status != 201 {
		t.Fatalf("POST /kong/upstreams: %d %s", status, body)
	}

	type line struct{ method, path, kind, id, token string }
	want := []line{
		{"POST", "/upstreams", "upstreams", upID, "ci"},
		{"POST", "/upstreams/audited/targets", "targets", targetID, "ci"},
		{"PATCH", "/upstreams/audited", "upstreams", upID, "ci"},
		{"POST", "/upstreams", "upstreams", "", "ci"},
		{"DELETE", "/upstreams/audited/targets/127.0.0.1:9", "targets", "127.0.0.1:9", "ci"},
		{"POST", "/kong/upstreams", "upstreams", "", "<nil>"},
	}
	wantStatus := []float64{201, 201, 200, 400, 204, 201}
	lines := g.auditLines(t)
	if len(lines) != len(want) {
		t.Fatalf("%d audit lines, want %d: %v", len(lines), len(want), lines)
	}
	for i, l := range lines {
		got := line{fmt.Sprint(l["method"]), fmt.Sprint(l["path"]), fmt.Sprint(l["kind"]), fmt.Sprint(l["id"]), fmt.Sprint(l["token"])}
		if i == len(want)-1 {
			want[i].id = got.id // generated by the write
		}
		if got != want[i] || l["status"] != wantStatus[i] || l["level"] != "info" || l["logger"] != "upstreams.admin.audit" ||
			l["msg"] != "admin write" || !strings.HasPrefix(fmt.Sprint(l["remote_addr"]), "127.0.0.1:") {
			t.Fatalf("audit line %d: %v, want %+v status %v", i, l, want[i], wantStatus[i])
		}
	}
	raw, _ := os.ReadFile(g.audit)
	if bytes.Contains(raw, []byte("body-marker")) || bytes.Contains(raw, []byte("s3cret")) || bytes.Contains(raw, []byte("weight")) {
		t.Fatalf("the audit log holds a body or a token:\n%s", raw)
	}
}

// TestGuardOptionErrors: malformed guard options are refused when the
// Caddyfile is read or the handler provisioned, with the option named.
func TestGuardOptionErrors(t *testing.T) {
	for block, want := range map[string]string{
		"token a b c":                "wrong argument count",
		"token ci x\n token ci y":    `token "ci" is named twice`,
		"token_failure_limit 0":      "not a positive integer",
		"token_failure_limit 3 soon": "not a positive duration",
		"allowed_origins":            "wrong argument count",
		"public yes":                 "wrong argument count",
		"tokens_header X":            "unrecognized kong_admin option 'tokens_header'",
	} {
		h := new(admin.Handler)
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("kong_admin {\n" + block + "\n}"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", block, err, want)
		}
	}
	for _, g := range []admin.Guard{
		{Token: "x", AllowedOrigins: []string{"manager.example"}},
		{Token: "x", AllowedOrigins: []string{"https://manager.example/ui"}},
		{Token: "x", Tokens: map[string]string{"default": "y"}},
		{Token: "x", TokenFailureBurst: -1},
	} {
		h := &admin.Handler{Guard: g}
		if err := h.Provision(caddy.Context{}); err == nil {
			t.Errorf("%+v was provisioned", g)
		}
	}
}
