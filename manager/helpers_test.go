package manager_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// seedConfig is testdata/Caddyfile's seed example on free loopback ports:
// kong_proxy on {HTTP}, kong_manager on {MANAGER}.
const seedConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		declarative_config {FILE}
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	kong_proxy
}
http://:{MANAGER} {
	bind 127.0.0.1
	kong_manager
}
`

// seed is the seed example running in-process.
type seed struct {
	c       *testcaddy.Caddy
	a, b    *testcaddy.Backend
	manager string // the manager's base URL
}

// startSeed starts Caddy with the seed's kong.yaml, its two targets being
// real loopback backends.
func startSeed(t testing.TB) *seed {
	t.Helper()
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	file := filepath.Join(t.TempDir(), "kong.yaml")
	if err := os.WriteFile(file, []byte(testcaddy.SeedYAML(t, "..", a, b)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcaddy.New(t)
	port := testcaddy.FreePort(t)
	c.Load(t, seedConfig, "{DB}", filepath.Join(t.TempDir(), "registry.db"), "{FILE}", file, "{MANAGER}", fmt.Sprint(port))
	return &seed{c: c, a: a, b: b, manager: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// proxyLoad sends requests through kong_proxy one after the other until
// ctx ends, and reports whether any failed.
func (s *seed) proxyLoad(ctx context.Context, failed func(error)) {
	url := fmt.Sprintf("http://127.0.0.1:%d/api/get", s.c.HTTPPort)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := testcaddy.Client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				failed(err)
			}
			return
		}
		resp.Body.Close()
	}
}
