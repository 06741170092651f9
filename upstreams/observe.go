package upstreams

import (
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
)

// Observation is what the proxy learned from one attempt to an address:
// how long it took from the pick to the end of the request, and whether
// it was the request's last attempt (earlier ones failed and were retried,
// so their durations say nothing about the address's response time).
//
// Observations enter the registry through Pool.Done; that is the single
// place where passive health checking can subscribe to them.
type Observation struct {
	Address  *Address
	Duration time.Duration
	Final    bool
}

// TracksRequests reports whether the pool's algorithm needs Begin and Done
// around each attempt. The proxy may skip both when it is false.
func (p *Pool) TracksRequests() bool { return balance.TracksRequests(p.balancer) }

// Begin records that an attempt to a starts (one more request in flight).
// Every Begin must be followed by exactly one Done for the same address.
func (p *Pool) Begin(a *Address) { a.State.Begin() }

// Done records the end of an attempt started with Begin: the request is
// no longer in flight and, for a final attempt, its duration feeds the
// address's latency EWMA.
func (p *Pool) Done(o Observation) { o.Address.State.End(o.Duration, o.Final) }
