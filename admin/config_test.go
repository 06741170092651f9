package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// kongYAML is a declarative config whose upstream "u" (the one adminConfig
// proxies /proxy to) has the given target.
func kongYAML(target string) string {
	return `_format_version: "3.0"
services:
  - name: svc
    host: u
    routes:
      - name: r
        paths: [/api]
upstreams:
  - name: u
    targets:
      - target: ` + target + `
`
}

func proxiedBackend(t *testing.T, e *env) string {
	t.Helper()
	status, body := getProxy(t, e.proxy)
	if status != 200 {
		t.Fatalf("proxy answered %d %s", status, body)
	}
	return strings.Fields(body)[0]
}

// TestPostConfigReplacesEverythingAtomically loads a config, checks the
// proxy follows it, then posts configs that are invalid in different
// places and checks each fails whole with Kong's code 14 while the old
// config stays in the store and keeps serving.
func TestPostConfigReplacesEverythingAtomically(t *testing.T) {
	e := start(t)
	a, b := testcaddy.StartBackend(t, "A"), testcaddy.StartBackend(t, "B")
	e.expect("POST", "/services", `{"name":"runtime","host":"r.test"}`, 201, serviceBody(`name="runtime";host="r.test"`))

	status, body, _ := e.do("POST", "/config", []byte(kongYAML(a.Addr)), "application/yaml")
	if status != 201 {
		t.Fatalf("POST /config: %d %s", status, body)
	}
	var loaded map[string]map[string]map[string]any
	if err := json.Unmarshal(body, &loaded); err != nil || len(loaded["services"]) != 1 || len(loaded["routes"]) != 1 ||
		len(loaded["upstreams"]) != 1 || len(loaded["targets"]) != 1 {
		t.Fatalf("POST /config answer: %s", body)
	}
	e.expect("GET", "/services/runtime", nil, 404, `{"message":"Not found"}`)
	if got := proxiedBackend(t, e); got != "A" {
		t.Fatalf("proxy reached %s, want A", got)
	}
	snapshot := func() string {
		var b strings.Builder
		for _, p := range []string{"/services", "/routes", "/upstreams", "/upstreams/u/targets"} {
			_, body, _ := e.do("GET", p, nil)
			b.Write(body)
		}
		return b.String()
	}
	before := snapshot()

	bad := []struct{ name, doc, want string }{
		{"bad route deep inside", strings.Replace(kongYAML(b.Addr), "paths: [/api]", "paths: [api]", 1),
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {services={{routes={{paths={\"should start with: / (fixed path) or ~/ (regex path)\"}}}}}}","fields":{"services":[{"routes":[{"paths":["should start with: / (fixed path) or ~/ (regex path)"]}]}]}}`},
		{"bad target last", kongYAML(b.Addr) + "      - target: \"not a host\"\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {upstreams={{targets={[2]={target=\"Invalid target; not a valid hostname or ip address\"}}}}}","fields":{"upstreams":[{"targets":[null,{"target":"Invalid target; not a valid hostname or ip address"}]}]}}`},
		{"dangling reference", kongYAML(b.Addr) + "routes:\n  - paths: [/x]\n    service: nope\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {routes={{[\"@entity\"]={\"invalid reference 'service: nope' (no such entry in 'services')\"}}}}","fields":{"routes":[{"@entity":["invalid reference 'service: nope' (no such entry in 'services')"]}]}}`},
		{"plugins", kongYAML(b.Addr) + "plugins:\n  - name: key-auth\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {plugins=\"this gateway has no plugins (it serves Kong's services, routes, upstreams and targets): Caddy handler directives placed before kong_proxy or reverse_proxy do plugins' jobs (basic_auth or forward_auth for authentication, header and request_header for transformations, log, metrics, request_body, respond); the list must be empty\"}","fields":{"plugins":"this gateway has no plugins (it serves Kong's services, routes, upstreams and targets): Caddy handler directives placed before kong_proxy or reverse_proxy do plugins' jobs (basic_auth or forward_auth for authentication, header and request_header for transformations, log, metrics, request_body, respond); the list must be empty"}}`},
		{"yaml syntax", "_format_version: \"3.0\"\nservices: [\n",
			`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {error=\"failed parsing declarative configuration: yaml: line 2: did not find expected node content\"}","fields":{"error":"failed parsing declarative configuration: yaml: line 2: did not find expected node content"}}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			status, body, _ := e.do("POST", "/config", []byte(tc.doc), "text/yaml")
			e.compare("POST /config", status, body, 400, tc.want)
		})
	}
	e.t = t
	// flattened errors, as Kong's ?flatten_errors=1
	status, body, _ = e.do("POST", "/config?flatten_errors=1", []byte(bad[1].doc), "application/yaml")
	e.compare("POST /config?flatten_errors=1", status, body, 400,
		`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {}","flattened_errors":[`+
			`{"entity_type":"target","entity":{"target":"not a host","upstream":{"id":"<id>"}},"errors":[{"type":"field","field":"target","message":"Invalid target; not a valid hostname or ip address"}]}]}`)
	e.expect("POST", "/config", []byte(""), 400, `{"message":"expected a declarative configuration"}`)
	if after := snapshot(); after != before {
		t.Fatalf("a rejected POST /config changed the state:\n%s\n%s", before, after)
	}
	if got := proxiedBackend(t, e); got != "A" {
		t.Fatalf("after rejected configs the proxy reached %s, want A", got)
	}

	// every encoding Kong accepts loads the same document
	doc := kongYAML(b.Addr)
	asJSON, _ := json.Marshal(map[string]string{"config": doc})
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("config", doc)
	w.Close()
	for _, enc := range []struct {
		name, ct string
		body     []byte
	}{
		{"json config field", "application/json", asJSON},
		{"form", "application/x-www-form-urlencoded", []byte("config=" + url.QueryEscape(doc))},
		{"multipart", w.FormDataContentType(), mp.Bytes()},
		{"json document", "application/json", []byte(`{"_format_version":"3.0","upstreams":[{"name":"u","targets":[{"target":"` + b.Addr + `"}]}]}`)},
	} {
		status, body, _ := e.do("POST", "/config", enc.body, enc.ct)
		if status != 201 {
			t.Fatalf("%s: %d %s", enc.name, status, body)
		}
		if got := proxiedBackend(t, e); got != "B" {
			t.Fatalf("%s: proxy reached %s, want B", enc.name, got)
		}
	}
	// GET /config exports a kong.yaml that POST /config takes back
	_, body, _ = e.do("GET", "/config", nil)
	var exported struct{ Config string }
	if err := json.Unmarshal(body, &exported); err != nil || !strings.Contains(exported.Config, `_format_version: "3.0"`) {
		t.Fatalf("GET /config: %s", body)
	}
	before = snapshot()
	if status, body, _ := e.do("POST", "/config", []byte(exported.Config), "application/yaml"); status != 201 {
		t.Fatalf("re-posting the export: %d %s", status, body)
	}
	if after := snapshot(); after != before {
		t.Fatalf("re-posting the export changed entities:\n%s\n%s", before, after)
	}
}

// declarativeConfig is adminConfig with a kong.yaml loaded at start.
var declarativeConfig = strings.Replace(adminConfig, "store bolt {DB}", "store bolt {DB}\n\t\tdeclarative_config {FILE}", 1)

// TestDeclarativeConfigLoadedAtStart loads a kong.yaml through the
// upstreams app, then reloads: entities keep their ids, runtime entities
// survive, and the proxy serves the file's upstream.
func TestDeclarativeConfigLoadedAtStart(t *testing.T) {
	a := testcaddy.StartBackend(t, "A")
	dir := t.TempDir()
	file := filepath.Join(dir, "kong.yaml")
	writeFile(t, file, kongYAML(a.Addr))
	c := testcaddy.New(t)
	proxy := testcaddy.FreePort(t)
	load := func() {
		c.Load(t, declarativeConfig, "{DB}", filepath.Join(dir, "r.db"), "{FILE}", file, "{PROXY}", fmt.Sprint(proxy))
	}
	load()
	e := &env{t: t, c: c, base: fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort), proxy: proxy}
	if got := proxiedBackend(t, e); got != "A" {
		t.Fatalf("proxy reached %s, want A", got)
	}
	svc := e.expect("GET", "/services/svc", nil, 200, serviceBody(`name="svc";host="u"`))
	route := e.expect("GET", "/routes/r", nil, 200, routeBody(`name="r";paths=["/api"];service={"id":"<id>"}`))
	if route["service"].(map[string]any)["id"] != svc["id"] {
		t.Fatalf("route's service %v, service id %v", route["service"], svc["id"])
	}
	e.expect("POST", "/services", `{"name":"runtime","host":"r.test"}`, 201, serviceBody(`name="runtime";host="r.test"`))
	e.expect("PATCH", "/services/svc", `{"retries":1}`, 200, serviceBody(`name="svc";host="u";retries=1`))

	load() // a config reload applies the file again
	again := e.expect("GET", "/services/svc", nil, 200, serviceBody(`name="svc";host="u"`))
	if again["id"] != svc["id"] || again["created_at"] != svc["created_at"] {
		t.Fatalf("reload changed the service's id or created_at: %v -> %v", svc, again)
	}
	e.expect("GET", "/services/runtime", nil, 200, serviceBody(`name="runtime";host="r.test"`))

	// an invalid file fails the config load and leaves the running one
	writeFile(t, file, strings.Replace(kongYAML(a.Addr), "host: u", "host: u:80", 1))
	cfg := testcaddy.Adapt(t, c.Expand(declarativeConfig, "{DB}", filepath.Join(dir, "r.db"), "{FILE}", file, "{PROXY}", fmt.Sprint(proxy)))
	if err := loadRaw(cfg); err == nil || !strings.Contains(err.Error(), "services={{host=\"must not have a port\"}}") {
		t.Fatalf("loading an invalid kong.yaml: %v", err)
	}
	if got := proxiedBackend(t, e); got != "A" {
		t.Fatalf("after the failed load the proxy reached %s, want A", got)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadRaw loads a JSON config, returning the error a failed load gives.
func loadRaw(cfg []byte) error { return caddy.Load(cfg, true) }

// TestPostConfigUnderLoadDropsNothing swaps the whole configuration back
// and forth while clients keep requesting through the proxy: every
// request must succeed (Kong users saw ~0.3 % 503s while reloading under
// load, Kong #8876).
func TestPostConfigUnderLoadDropsNothing(t *testing.T) {
	e := start(t)
	a, b := testcaddy.StartBackend(t, "A"), testcaddy.StartBackend(t, "B")
	docs := [][]byte{[]byte(kongYAML(a.Addr)), []byte(kongYAML(b.Addr))}
	if status, body, _ := e.do("POST", "/config", docs[0], "application/yaml"); status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	const clients, swaps = 4, 40
	load := testcaddy.StartLoad(t, clients, testcaddy.GetOK(fmt.Sprintf("http://127.0.0.1:%d/", e.proxy)))
	start := time.Now()
	var slowest time.Duration
	for i := 1; i <= swaps; i++ {
		t0 := time.Now()
		if status, body, _ := e.do("POST", "/config", docs[i%2], "application/yaml"); status != 201 {
			t.Fatalf("swap %d: %d %s", i, status, body)
		}
		slowest = max(slowest, time.Since(t0))
	}
	elapsed := time.Since(start)
	sent, failed := load.Stop()
	t.Logf("%d POST /config swaps in %v (slowest %v) under %d clients: %d requests sent, %d failed",
		swaps, elapsed, slowest, clients, sent, failed)
	if failed != 0 || sent == 0 {
		t.Fatalf("%d of %d proxied requests failed during the swaps: %v", failed, sent, load.Failures())
	}
}

// TestPostConfigCheckHash: with ?check_hash=1, posting the configuration
// that made the current content answers 304 and does nothing; any other
// change in between makes it apply again.
func TestPostConfigCheckHash(t *testing.T) {
	e := start(t)
	doc := []byte(kongYAML("127.0.0.1:9"))
	for i, want := range []int{201, 304, 304} {
		if status, body, _ := e.do("POST", "/config?check_hash=1", doc, "application/yaml"); status != want {
			t.Fatalf("post %d: %d %s, want %d", i+1, status, body, want)
		}
	}
	e.expect("PATCH", "/services/svc", `{"retries":1}`, 200, serviceBody(`name="svc";host="u";retries=1`))
	if status, body, _ := e.do("POST", "/config?check_hash=1", doc, "application/yaml"); status != 201 {
		t.Fatalf("after a change: %d %s, want 201", status, body)
	}
	e.expect("GET", "/services/svc", nil, 200, serviceBody(`name="svc";host="u"`))
}
