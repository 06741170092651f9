package balance

// testPool is what the upstreams package's Pool is to the proxy, for the
// tests of this package: endpoints, the balancer built over them, and
// Pick returning the endpoint chosen.
type testPool struct {
	Addresses []*Endpoint
	balancer  Balancer
}

// newTestPool builds a pool over the given dials and weights.
func newTestPool(c Config, dials []string, weights []int) *testPool {
	p := &testPool{Addresses: make([]*Endpoint, len(dials))}
	for i, d := range dials {
		p.Addresses[i] = &Endpoint{Dial: d, Weight: weights[i], State: new(State)}
	}
	p.balancer = New(c, p.Addresses)
	return p
}

// Pick returns the endpoint chosen for req, or nil.
func (p *testPool) Pick(req *Request) *Endpoint {
	if i := Pick(p.balancer, p.Addresses, req); i >= 0 {
		return p.Addresses[i]
	}
	return nil
}
