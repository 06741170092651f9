package kongproxy_test

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// reverseProxyConfig is the seed's proxy written by hand with
// reverse_proxy, for comparison with kong_proxy.
const reverseProxyConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	handle_path /api* {
		reverse_proxy {
			dynamic registry upstream-example
			lb_policy registry
			transport registry
		}
	}
}
`

// benchmarkSeed sends sequential requests to /api/get through config,
// with upstream-example over two backends and the seed's service and
// route (unused by the reverse_proxy config), plus `routes` other routes.
func benchmarkSeed(b *testing.B, config string, routes int) {
	a, z := testcaddy.StartBackend(b, "a"), testcaddy.StartBackend(b, "b")
	c := testcaddy.New(b)
	c.Load(b, config, "{DB}", filepath.Join(b.TempDir(), "registry.db"))
	reg := upstreams.ActiveRegistry()
	ctx := b.Context()
	must := func(_ any, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(reg.CreateUpstream(ctx, map[string]any{"name": "upstream-example"}))
	must(reg.CreateTarget(ctx, "upstream-example", map[string]any{"target": a.Addr}))
	must(reg.CreateTarget(ctx, "upstream-example", map[string]any{"target": z.Addr}))
	must(reg.CreateService(ctx, map[string]any{"name": "seed", "host": "upstream-example"}))
	must(reg.CreateRoute(ctx, map[string]any{"paths": []any{"/api"}, "service": map[string]any{"name": "seed"}}))
	for i := range routes {
		must(reg.CreateRoute(ctx, map[string]any{"hosts": []any{fmt.Sprintf("h%d.test", i)}, "paths": []any{fmt.Sprintf("/p%d", i)},
			"service": map[string]any{"name": "seed"}}))
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/get", c.HTTPPort)
	b.ResetTimer()
	for b.Loop() {
		resp, err := testcaddy.Client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func BenchmarkReverseProxy(b *testing.B)        { benchmarkSeed(b, reverseProxyConfig, 0) }
func BenchmarkKongProxy(b *testing.B)           { benchmarkSeed(b, kongConfig, 0) }
func BenchmarkKongProxy1000Routes(b *testing.B) { benchmarkSeed(b, kongConfig, 1000) }
