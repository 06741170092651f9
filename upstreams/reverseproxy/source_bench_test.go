package reverseproxy

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
)

// BenchmarkSourceGetUpstreams measures what the registry source adds to
// each proxied request: the pool lookup, the pick, the request's balancing
// state in its Caddy vars and the one-upstream answer, for round-robin
// upstreams of 2, 100 and 1 000 targets (bench/run.sh's N).
func BenchmarkSourceGetUpstreams(b *testing.B) {
	for _, n := range []int{2, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			store := new(boltstore.Store)
			if err := store.Open(filepath.Join(b.TempDir(), "r.db")); err != nil {
				b.Fatal(err)
			}
			reg, err := upstreams.NewRegistry(context.Background(), store, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { reg.Close() })
			ctx := context.Background()
			if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "bench"}); err != nil {
				b.Fatal(err)
			}
			targets := make([]map[string]any, n)
			for i := range targets {
				targets[i] = map[string]any{"target": fmt.Sprintf("127.0.0.1:%d", 21000+i)}
			}
			if _, err := reg.CreateTargets(ctx, "bench", targets); err != nil {
				b.Fatal(err)
			}
			s := &Source{Upstream: "bench", registry: reg}
			vars := map[string]any{}
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			b.ReportAllocs()
			for b.Loop() {
				delete(vars, attemptVar) // a new request
				if ups, err := s.GetUpstreams(r); err != nil || len(ups) != 1 {
					b.Fatal(ups, err)
				}
			}
		})
	}
}
