package upstreams

import (
	"math/rand/v2"
)

// leastCost picks the usable address with the lowest cost, where the cost
// (in-flight requests, latency) is per address and weight-relative. Small
// pools are scanned whole, as Kong does; larger ones use the power of two
// choices over weight-proportional samples, which keeps a pick O(1) and
// lock-free with loads close to the full scan's (Mitzenmacher 2001).
type leastCost struct {
	cost func(a *Address, now int64) float64
	// samples lists address indexes in proportion to their weights (the
	// smooth round-robin schedule), for weighted sampling.
	samples []uint32
}

// fullScanAddresses is the pool size up to which every address is compared.
const fullScanAddresses = 8

func newLeastCost(addrs []*Address, cost func(a *Address, now int64) float64) *leastCost {
	weights := make([]int, len(addrs))
	for i, a := range addrs {
		weights[i] = a.Weight
	}
	return &leastCost{cost: cost, samples: smoothSchedule(weights)}
}

func (l *leastCost) pick(p *Pool, req *PickRequest) int {
	if len(l.samples) == 0 {
		return -1
	}
	now := monotonicNow()
	if len(p.Addresses) <= fullScanAddresses {
		return l.scan(p, req, now)
	}
	n := uint64(len(l.samples))
	for range 4 {
		i, j := int(l.samples[rand.Uint64N(n)]), int(l.samples[rand.Uint64N(n)])
		ui, uj := p.usable(i, req), p.usable(j, req)
		switch {
		case ui && uj:
			if i != j && l.cost(p.Addresses[j], now) < l.cost(p.Addresses[i], now) {
				return j
			}
			return i
		case ui:
			return i
		case uj:
			return j
		}
	}
	return l.scan(p, req, now) // most of the pool is down or tried
}

// scan compares every usable address, starting at a random one so equal
// costs share the traffic.
func (l *leastCost) scan(p *Pool, req *PickRequest, now int64) int {
	n := len(p.Addresses)
	best, bestCost := -1, 0.0
	start := rand.IntN(n)
	for k := range n {
		i := (start + k) % n
		if !p.usable(i, req) {
			continue
		}
		if c := l.cost(p.Addresses[i], now); best < 0 || c < bestCost {
			best, bestCost = i, c
		}
	}
	return best
}

// tracksRequests reports that leastCost needs Pool.Begin/Pool.Done calls.
func (l *leastCost) tracksRequests() bool { return true }
