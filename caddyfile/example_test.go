package caddyfile_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// demo is one of the example configs of testdata/ running in-process, on
// free ports in place of the fixed ones the file names.
type demo struct {
	*testcaddy.Caddy
	// KongAdmin is the port standing in for the kong_admin listener's 8001.
	KongAdmin int
	// Spare is the port standing in for 9003, the spare demo backend.
	Spare int
}

// startDemo loads testdata/<file> with free ports in place of 2019 (Caddy's
// admin), 8000 (the proxy), 8001 (kong_admin), 9001 and 9002 (the demo
// backends), 9003 (the spare one), its bolt store in a file of its own, and testdata/kong.yaml
// replaced by a copy with the same port changes.
func startDemo(t *testing.T, file string) *demo {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{Caddy: testcaddy.New(t), KongAdmin: testcaddy.FreePort(t)}
	d.Spare = testcaddy.FreePort(t)
	ports := strings.NewReplacer("9001", fmt.Sprint(testcaddy.FreePort(t)), "9002", fmt.Sprint(testcaddy.FreePort(t)),
		"9003", fmt.Sprint(d.Spare))
	seed, err := os.ReadFile("../testdata/kong.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seedCopy := filepath.Join(dir, "kong.yaml")
	if err := os.WriteFile(seedCopy, []byte(ports.Replace(string(seed))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"localhost:2019", "localhost:{ADMIN}",
		":8000", ":{HTTP}",
		":8001", fmt.Sprint(":", d.KongAdmin),
		"store bolt\n", "store bolt "+filepath.Join(dir, "upstreams.db")+"\n",
		"testdata/kong.yaml", seedCopy,
	).Replace(ports.Replace(string(raw)))
	d.Load(t, cfg)
	return d
}

// getAPI sends n requests to /api/anything and returns the first word of
// each answer after checking it is a 200 from a backend that saw the path
// with /api stripped.
func (d *demo) getAPI(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for i := 0; i < n; i++ {
		status, body := d.Get(t, "/api/anything")
		if status != 200 {
			t.Fatalf("GET /api/anything: %d %q", status, body)
		}
		if !strings.Contains(body, " /anything") {
			t.Fatalf("prefix not stripped: %q", body)
		}
		got = append(got, strings.Join(strings.Fields(body)[:2], " "))
	}
	return got
}

// checkAlternates fails unless no two consecutive answers came from the
// same backend.
func checkAlternates(t *testing.T, got []string) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("/api did not alternate: %v", got)
		}
	}
}

// TestExampleCaddyfileServes runs the main job, testdata/Caddyfile (`make
// run`: testdata/kong.yaml loaded by declarative_config, kong_proxy on the
// proxy port, kong_admin on Kong's 8001): /api alternates between the two
// demo backends with the prefix stripped, and the spare backend, added as
// a target through the kong_admin listener, gets its share of the next
// requests.
func TestExampleCaddyfileServes(t *testing.T) {
	d := startDemo(t, "Caddyfile")
	checkAlternates(t, d.getAPI(t, 20))

	spare := fmt.Sprintf("127.0.0.1:%d", d.Spare)
	resp, err := testcaddy.Client.PostForm(fmt.Sprintf("http://127.0.0.1:%d/upstreams/upstream-example/targets", d.KongAdmin),
		url.Values{"target": {spare}, "weight": {"100"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST :8001/upstreams/upstream-example/targets: %d, want 201", resp.StatusCode)
	}
	got := d.getAPI(t, 30)
	served := 0
	for _, backend := range got {
		if backend == "backend 3" {
			served++
		}
	}
	if served != 10 {
		t.Fatalf("the added target served %d of 30 requests, want 10 (weights 100/100/100): %v", served, got)
	}
}

// TestReverseProxyCaddyfileServes runs testdata/reverse_proxy.Caddyfile,
// the same example with the upstream declared in the Caddyfile and Caddy's
// reverse_proxy: /api alternates between the two demo backends.
func TestReverseProxyCaddyfileServes(t *testing.T) {
	d := startDemo(t, "reverse_proxy.Caddyfile")
	checkAlternates(t, d.getAPI(t, 20))
}

// TestExampleJSONIsTheCaddyfile keeps testdata/caddy.json what `caddy adapt`
// makes of testdata/Caddyfile.
func TestExampleJSONIsTheCaddyfile(t *testing.T) {
	caddyfile, err := os.ReadFile("../testdata/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile("../testdata/caddy.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(testcaddy.Adapt(t, string(caddyfile)), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stored, &got); err != nil {
		t.Fatalf("testdata/caddy.json: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("testdata/caddy.json is not testdata/Caddyfile adapted: regenerate it with `go run ./cmd/caddy adapt --config testdata/Caddyfile --pretty`")
	}
}

// TestDocJSONExampleValidates keeps the JSON example of
// docs/configuration.md loadable.
func TestDocJSONExampleValidates(t *testing.T) {
	raw, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "\n## JSON\n\n```json\n")
	if !ok {
		t.Fatal("docs/configuration.md has no JSON example")
	}
	example, _, _ := strings.Cut(after, "```")
	cfg := new(caddy.Config)
	if err := json.Unmarshal([]byte(example), cfg); err != nil {
		t.Fatalf("docs/configuration.md JSON example: %v", err)
	}
	if err := caddy.Validate(cfg); err != nil {
		t.Fatalf("docs/configuration.md JSON example does not validate: %v", err)
	}
}
