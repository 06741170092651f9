package balance

import (
	"math/rand/v2"
)

// leastCost picks the usable address with the lowest cost, where the cost
// (in-flight requests, latency) is per address and weight-relative and
// less compares two addresses' costs. Small
// pools are scanned whole, as Kong does; larger ones use the power of two
// choices over weight-proportional samples, which keeps a pick O(1) and
// lock-free with loads close to the full scan's (Mitzenmacher 2001).
type leastCost struct {
	less func(a, b *Endpoint) bool
	// samples lists address indexes in proportion to their weights (the
	// smooth round-robin schedule), for weighted sampling.
	samples []uint32
}

// fullScanAddresses is the pool size up to which every address is compared.
const fullScanAddresses = 8

func newLeastCost(addrs []*Endpoint, less func(a, b *Endpoint) bool) *leastCost {
	weights := make([]int, len(addrs))
	for i, a := range addrs {
		weights[i] = a.Weight
	}
	return &leastCost{less: less, samples: smoothSchedule(weights)}
}

// Pick compares the costs of sampled (or all) usable endpoints.
func (l *leastCost) Pick(eps []*Endpoint, req *Request) int {
	if len(l.samples) == 0 {
		return -1
	}
	if len(eps) <= fullScanAddresses {
		return l.scan(eps, req)
	}
	n := uint64(len(l.samples))
	for range 4 {
		i, j := int(l.samples[rand.Uint64N(n)]), int(l.samples[rand.Uint64N(n)])
		ui, uj := usable(eps, i, req), usable(eps, j, req)
		switch {
		case ui && uj:
			if i != j && l.less(eps[j], eps[i]) {
				return j
			}
			return i
		case ui:
			return i
		case uj:
			return j
		}
	}
	return l.scan(eps, req) // most of the pool is down or tried
}

// scan compares every usable address, starting at a random one so equal
// costs share the traffic.
func (l *leastCost) scan(eps []*Endpoint, req *Request) int {
	n := len(eps)
	best := -1
	start := rand.IntN(n)
	for k := range n {
		i := (start + k) % n
		if usable(eps, i, req) && (best < 0 || l.less(eps[i], eps[best])) {
			best = i
		}
	}
	return best
}

// tracksRequests reports that leastCost needs State.Begin/State.End calls.
func (l *leastCost) tracksRequests() bool { return true }
