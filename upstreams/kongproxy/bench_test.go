package kongproxy_test

import (
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// reverseProxyConfig is the seed's proxy written by hand with
// reverse_proxy over the registry upstream, for comparison with kong_proxy.
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

// staticConfig is the seed with Caddy's static reverse_proxy and the
// upstream headers kong_proxy sends (bench/run.sh's kong phase compares
// the same two): Caddy's own speed for this job.
const staticConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	handle_path /api* {
		reverse_proxy {A} {B} {
			lb_policy round_robin
			header_up Host {upstream_hostport}
			header_up X-Real-IP {client_ip}
			header_up X-Forwarded-Port {http.request.port}
			header_up X-Forwarded-Path {http.request.orig_uri.path}
			header_up X-Forwarded-Prefix /api
			header_up X-Kong-Request-Id {http.request.uuid}
			header_down X-Kong-Request-Id {http.request.uuid}
		}
	}
}
`

// benchmarkSeed sends requests to /api/get through config, with
// upstream-example over two backends and the seed's service and route
// (unused by the reverse_proxy configs), plus `routes` other routes to the
// seed's service and `services` other services, each with its route and
// its upstream over the same two backends. With other routes or services,
// request i goes to the (i mod n)th of them instead of /api/get, so that
// selection among them, not one hot route or upstream, is measured. The
// requests are sent by `parallel` goroutines per CPU at once, so that the
// proxy, not the round trip's latency, is what the benchmark measures
// (allocs/op and B/op include the client's and the backends').
func benchmarkSeed(b *testing.B, config string, routes, services, parallel int) {
	a, z := testcaddy.StartBackend(b, "a"), testcaddy.StartBackend(b, "b")
	c := testcaddy.New(b)
	c.Load(b, config, "{DB}", filepath.Join(b.TempDir(), "registry.db"), "{A}", a.Addr, "{B}", z.Addr)
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
	base := fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort)
	urls := []string{base + "/api/get"}
	if routes+services > 0 {
		urls = nil
	}
	for i := range routes {
		must(reg.CreateRoute(ctx, map[string]any{"paths": []any{fmt.Sprintf("/r%04d", i)}, "service": map[string]any{"name": "seed"}}))
		urls = append(urls, fmt.Sprintf("%s/r%04d/get", base, i))
	}
	for i := range services {
		name := fmt.Sprintf("u%04d", i)
		must(reg.CreateUpstream(ctx, map[string]any{"name": name}))
		must(reg.CreateTarget(ctx, name, map[string]any{"target": a.Addr}))
		must(reg.CreateTarget(ctx, name, map[string]any{"target": z.Addr}))
		must(reg.CreateService(ctx, map[string]any{"name": name, "host": name}))
		must(reg.CreateRoute(ctx, map[string]any{"paths": []any{"/" + name}, "service": map[string]any{"name": name}}))
		urls = append(urls, base+"/"+name+"/get")
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(parallel)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := testcaddy.Client.Get(urls[next.Add(1)%uint64(len(urls))])
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func BenchmarkStaticReverseProxy(b *testing.B)     { benchmarkSeed(b, staticConfig, 0, 0, 8) }
func BenchmarkReverseProxy(b *testing.B)           { benchmarkSeed(b, reverseProxyConfig, 0, 0, 8) }
func BenchmarkKongProxy(b *testing.B)              { benchmarkSeed(b, kongConfig, 0, 0, 8) }
func BenchmarkKongProxy1000Routes(b *testing.B)    { benchmarkSeed(b, kongConfig, 1000, 0, 8) }
func BenchmarkKongProxy1000Upstreams(b *testing.B) { benchmarkSeed(b, kongConfig, 0, 1000, 8) }
