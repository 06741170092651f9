package balance

import (
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

// BenchmarkRecordTraffic is the per-round-trip cost of the live stats'
// counters, with every goroutine hitting the same address (the worst
// case: one contended cache line).
func BenchmarkRecordTraffic(b *testing.B) {
	s := new(State)
	rt := health.RoundTrip{Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.RecordTraffic(rt, time.Millisecond)
		}
	})
	if got := s.Traffic().Requests; got != uint64(b.N) {
		b.Fatalf("counted %d round trips, want %d", got, b.N)
	}
}
