package upstreams

import (
	"fmt"
	"net/http/httptest"
	"testing"

	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// benchPool builds a round-robin pool of n targets with mixed weights.
func benchPool(n int) *Pool {
	u := &Upstream{ID: fmt.Sprintf("bench-%d", n), Name: "bench", Algorithm: AlgorithmRoundRobin}
	targets := make([]*Target, n)
	for i := range targets {
		targets[i] = &Target{ID: fmt.Sprint(i), Target: fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255), Weight: 100 + i%3*100}
	}
	return newPool(u, targets, &addressStates{}, 1)
}

// BenchmarkRoundRobinPick measures one balancing decision (what every
// proxied request pays) at several pool sizes.
func BenchmarkRoundRobinPick(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := benchPool(n)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var req PickRequest
				for pb.Next() {
					req.tried = req.tried[:0]
					if p.Pick(&req) == nil {
						b.Fatal("no pick")
					}
				}
			})
		})
	}
}

// BenchmarkCaddyRoundRobinSelect is the baseline: Caddy's own round_robin
// policy choosing from a pool of n static upstreams (O(n) worst case, and
// with dynamic upstreams the pool itself costs O(n) per request to build).
func BenchmarkCaddyRoundRobinSelect(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pool := make(caddyrp.UpstreamPool, n)
			for i := range pool {
				pool[i] = &caddyrp.Upstream{Dial: fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255)}
			}
			policy := new(caddyrp.RoundRobinSelection)
			req := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if policy.Select(pool, req, nil) == nil {
						b.Fatal("no pick")
					}
				}
			})
		})
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
