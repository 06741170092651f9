package upstreams

import (
	"fmt"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
)

// BenchmarkPoolBuild measures building a pool (what a target change costs,
// off the request path) for the algorithms with precomputed tables.
func BenchmarkPoolBuild(b *testing.B) {
	for _, alg := range []string{balance.RoundRobin, balance.ConsistentHashing, balance.StickySessions} {
		for _, n := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", alg, n), func(b *testing.B) {
				u := &Upstream{ID: fmt.Sprintf("bench-%s-%d", alg, n), Name: "bench", Algorithm: alg,
					HashOn: "header", HashOnHeader: new("X-User"), HashFallback: "none", Slots: 10000, StickySessionsCookiePath: "/"}
				targets := make([]*Target, n)
				for i := range targets {
					targets[i] = &Target{ID: fmt.Sprint(i), Target: fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255), Weight: 100 + i%3*100}
				}
				b.ReportAllocs()
				for b.Loop() {
					newPool(u, targets, nil, &addressStates{}, nil, 1)
				}
			})
		}
	}
}
