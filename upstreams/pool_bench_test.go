package upstreams

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// benchPool builds a pool of n targets with mixed weights for an algorithm.
func benchPool(algorithm string, n int) *Pool {
	u := &Upstream{ID: fmt.Sprintf("bench-%s-%d", algorithm, n), Name: "bench", Algorithm: algorithm,
		HashOn: "header", HashOnHeader: new("X-User"), HashFallback: "none", Slots: 10000, StickySessionsCookiePath: "/"}
	targets := make([]*Target, n)
	for i := range targets {
		targets[i] = &Target{ID: fmt.Sprint(i), Target: benchDial(i), Weight: 100 + i%3*100}
	}
	return newPool(u, targets, &addressStates{}, 1)
}

func benchDial(i int) string { return fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255) }

// benchKeys are request keys: user names for consistent hashing, cookie
// values naming targets for sticky sessions.
func benchKeys(p *Pool) []string {
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
	algorithms := []string{AlgorithmRoundRobin, AlgorithmConsistentHashing, AlgorithmLeastConnections,
		AlgorithmLatency, AlgorithmStickySessions}
	for _, alg := range algorithms {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/%d", alg, n), func(b *testing.B) {
				p := benchPool(alg, n)
				for i, a := range p.Addresses { // some load and history
					a.State.InFlight.Store(int64(i % 7))
					a.State.latency.observe(time.Duration(1+i%5)*time.Millisecond, monotonicNow())
				}
				keys := benchKeys(p)
				var req PickRequest
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

func TestSmoothScheduleShapes(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    string
	}{
		{[]int{100, 100}, "01"},
		{[]int{300, 100}, "0001"},
		{[]int{5, 1, 1}, "0001002"},
		{[]int{0, 7}, "1"},
		{[]int{0, 0}, ""},
	} {
		got := ""
		for _, i := range smoothSchedule(tc.weights) {
			got += fmt.Sprint(i)
		}
		if got != tc.want {
			t.Errorf("weights %v: schedule %q, want %q", tc.weights, got, tc.want)
		}
	}
	// the schedule stays bounded for huge co-prime weights
	weights := make([]int, 1000)
	for i := range weights {
		weights[i] = 65535 - i
	}
	if s := smoothSchedule(weights); len(s) > maxScheduleFactor*len(weights)+minScheduleCap+len(weights) {
		t.Fatalf("schedule length %d not bounded", len(s))
	}
}

// BenchmarkPoolBuild measures building a pool (what a target change costs,
// off the request path) for the algorithms with precomputed tables.
func BenchmarkPoolBuild(b *testing.B) {
	for _, alg := range []string{AlgorithmRoundRobin, AlgorithmConsistentHashing, AlgorithmStickySessions} {
		for _, n := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", alg, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					benchPool(alg, n)
				}
			})
		}
	}
}
