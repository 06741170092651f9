package upstreams

// balancer chooses an address index of a pool; it is built once per pool
// generation and must be safe for concurrent use without locks.
type balancer interface {
	// pick returns the index of the chosen usable address, or -1.
	pick(p *Pool, req *PickRequest) int
}

// newBalancer builds the balancer for an upstream's algorithm.
func newBalancer(u *Upstream, addrs []*Address) balancer {
	switch u.Algorithm {
	default:
		return newRoundRobin(u.ID, addrs)
	}
}
