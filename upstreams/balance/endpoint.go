package balance

import (
	"sync/atomic"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

// Endpoint is what the algorithms read of one balanced address: where it
// is dialled, its share of traffic and its runtime state. The upstreams
// package's Address embeds it, so an address costs no extra object.
type Endpoint struct {
	// Dial is the address reverse_proxy dials ("host:port", IPv6 bracketed).
	Dial string
	// Weight is the address's share of traffic; 0 takes none.
	Weight int
	// State is the address's mutable runtime state, shared by every pool
	// generation of the same upstream.
	State *State
}

// State is the runtime state of one address of one target of one
// upstream, kept across pool rebuilds: its load (requests in flight,
// response-time EWMA, traffic counters) and its health.
type State struct {
	// InFlight counts requests currently proxied to the address.
	InFlight atomic.Int64
	// State is the address's health; unhealthy addresses get no traffic.
	health.State
	// latency is the response-time EWMA of the latency algorithm.
	latency latencyEWMA
	// traffic counts proxied round trips for the Admin API's live stats.
	traffic trafficCounters
}

// Begin records that an attempt to the address starts (one more request
// in flight). Every Begin must be followed by exactly one End.
func (s *State) Begin() { s.InFlight.Add(1) }

// End records the end of an attempt started with Begin that took d: the
// request is no longer in flight and, for a request's final attempt (the
// earlier ones failed and were retried, so their durations say nothing of
// the address's response time), d feeds the latency EWMA.
func (s *State) End(d time.Duration, final bool) {
	s.InFlight.Add(-1)
	if final {
		s.latency.observe(d, monotonicNow())
	}
}

// Available reports whether the endpoint can take a request now.
func (e *Endpoint) Available() bool { return e.Weight > 0 && e.State.Healthy() }

// usable reports whether endpoint i may be chosen for req.
func usable(eps []*Endpoint, i int, req *Request) bool {
	e := eps[i]
	return e.Available() && (req == nil || !req.wasTried(e.Dial))
}
