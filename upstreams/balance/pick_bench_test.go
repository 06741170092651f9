package balance

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// benchPool builds a pool of n targets with mixed weights for an algorithm.
func benchPool(algorithm string, n int) *testPool {
	c := Config{UpstreamID: fmt.Sprintf("bench-%s-%d", algorithm, n), Algorithm: algorithm,
		HashOn: Input{On: "header", Header: "X-User"}, HashFallback: Input{On: "none"}, Slots: 10000, StickyCookiePath: "/"}
	dials, weights := make([]string, n), make([]int, n)
	for i := range dials {
		dials[i], weights[i] = benchDial(i), 100+i%3*100
	}
	return newTestPool(c, dials, weights)
}

func benchDial(i int) string { return fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255) }

// benchKeys are request keys: user names for consistent hashing, cookie
// values naming targets for sticky sessions.
func benchKeys(p *testPool) []string {
	keys := make([]string, 1024)
	for i := range keys {
		if s, ok := p.balancer.(*stickySessions); ok {
			keys[i] = s.ids[i%len(s.ids)]
		} else {
			keys[i] = fmt.Sprintf("user-%d", i)
		}
	}
	return keys
}

// BenchmarkPick measures one balancing decision, what every proxied
// request (and retry) pays, for every algorithm at several pool sizes, and
// Caddy's own round_robin and ip_hash policies over a pool of the same
// size in the same run. Hash and sticky picks include hashing the key.
func BenchmarkPick(b *testing.B) {
	sizes := []int{10, 1000, 10000}
	algorithms := []string{RoundRobin, ConsistentHashing, LeastConnections,
		Latency, StickySessions}
	for _, alg := range algorithms {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", alg, n), func(b *testing.B) {
				p := benchPool(alg, n)
				for i, a := range p.Addresses { // some load and history
					a.State.InFlight.Store(int64(i % 7))
					a.State.latency.observe(time.Duration(1+i%5)*time.Millisecond, monotonicNow())
				}
				keys := benchKeys(p)
				var req Request
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					req.tried = req.tried[:0]
					req.setKey(keys[i&1023])
					i++
					if p.Pick(&req) == nil {
						b.Fatal("no pick")
					}
				}
			})
		}
	}
	caddyPolicies := []struct {
		name   string
		policy caddyrp.Selector
	}{
		{"caddy-round_robin", new(caddyrp.RoundRobinSelection)},
		{"caddy-ip_hash", new(caddyrp.IPHashSelection)},
	}
	for _, c := range caddyPolicies {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				pool := make(caddyrp.UpstreamPool, n)
				for i := range pool {
					pool[i] = &caddyrp.Upstream{Host: new(caddyrp.Host), Dial: benchDial(i)}
				}
				reqs := make([]*http.Request, 1024)
				for i := range reqs {
					reqs[i] = httptest.NewRequest("GET", "/", nil)
					reqs[i].RemoteAddr = fmt.Sprintf("192.0.%d.%d:5000", i>>8, i&255)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if c.policy.Select(pool, reqs[i&1023], nil) == nil {
						b.Fatal("no pick")
					}
					i++
				}
			})
		}
	}
}
