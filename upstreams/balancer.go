package upstreams

// balancer chooses an address index of a pool; it is built once per pool
// generation and must be safe for concurrent use without locks.
type balancer interface {
	// pick returns the index of the chosen usable address, or -1.
	pick(p *Pool, req *PickRequest) int
}

// newBalancer builds the balancer for an upstream's algorithm. Pools are
// rebuilt on every upstream change, so a new algorithm applies to the
// next request.
func newBalancer(u *Upstream, addrs []*Address) balancer {
	switch u.Algorithm {
	case AlgorithmConsistentHashing:
		return newConsistentHashing(u, addrs)
	case AlgorithmLeastConnections:
		return newLeastConnections(addrs)
	case AlgorithmLatency:
		return newLatency(addrs)
	case AlgorithmStickySessions:
		return newStickySessions(u, addrs)
	default:
		return newRoundRobin(u.ID, addrs)
	}
}
