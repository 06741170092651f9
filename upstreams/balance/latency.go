package balance

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// newLatency is Kong's latency algorithm (peak-EWMA inspired): the address
// with the lowest response-time EWMA relative to its weight, the EWMA
// decaying towards 0 while the address is not observed (so a slow address
// is retried now and then). Two differences from Kong: the cost is also
// multiplied by (in-flight+1), as in Finagle's peak EWMA, so concurrent
// requests spread; and an address without a measurement yet is compared by
// in-flight/weight alone (Kong gives it the mean EWMA), so a new target is
// probed by a few requests instead of taking all of them.
func newLatency(addrs []*Endpoint) *leastCost {
	return newLeastCost(addrs, fasterResponses)
}

// fasterResponses compares decayedEWMA·(in-flight+1)/weight. Both EWMAs
// decay with the same clock, so the comparison needs only the difference
// of their observation times: one exp, no clock reading.
func fasterResponses(a, b *Endpoint) bool {
	ta, tb := a.State.latency.touched.Load(), b.State.latency.touched.Load()
	if ta == 0 || tb == 0 {
		return fewerConnections(a, b)
	}
	ca := math.Float64frombits(a.State.latency.ewma.Load()) * float64(a.State.InFlight.Load()+1) / float64(a.Weight)
	cb := math.Float64frombits(b.State.latency.ewma.Load()) * float64(b.State.InFlight.Load()+1) / float64(b.Weight)
	// decayed_a < decayed_b  <=>  ca·e^(-(now-ta)/τ) < cb·e^(-(now-tb)/τ)
	if x := float64(ta-tb) / float64(latencyDecay); x > 0 {
		return ca < cb*math.Exp(-x)
	}
	return ca*math.Exp(float64(ta-tb)/float64(latencyDecay)) < cb
}

// latencyDecay is Kong's EWMA time constant: w = exp(-Δt / 10 s).
const latencyDecay = 10 * time.Second

// latencyEWMA is an address's response-time EWMA, in seconds. Writers take
// the lock; readers load the two words without it.
type latencyEWMA struct {
	mu      sync.Mutex
	ewma    atomic.Uint64 // float64 bits
	touched atomic.Int64  // monotonicNow of the last observation, 0 if none
}

// observe folds a response time in: ewma = ewma·w + rtt·(1-w).
func (l *latencyEWMA) observe(rtt time.Duration, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := rtt.Seconds()
	if last := l.touched.Load(); last != 0 {
		w := math.Exp(-float64(now-last) / float64(latencyDecay))
		v = math.Float64frombits(l.ewma.Load())*w + v*(1-w)
	}
	l.ewma.Store(math.Float64bits(v))
	l.touched.Store(now)
}

// decayed is the EWMA decayed with rtt = 0 from the last observation to now.
func (l *latencyEWMA) decayed(now int64) float64 {
	last := l.touched.Load()
	if last == 0 {
		return 0
	}
	v := math.Float64frombits(l.ewma.Load())
	if dt := now - last; dt > 0 {
		v *= math.Exp(-float64(dt) / float64(latencyDecay))
	}
	return v
}

// LatencySeconds returns the address's current response-time EWMA in seconds
// (0 before the first observation).
func (s *State) LatencySeconds() float64 { return s.latency.decayed(monotonicNow()) }

var processStart = time.Now()

// monotonicNow is a monotonic clock reading in nanoseconds, never 0.
func monotonicNow() int64 { return int64(time.Since(processStart)) + 1 }
