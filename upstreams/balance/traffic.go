package balance

import (
	"sync/atomic"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

// trafficCounters count the proxied round trips to one address since it
// first appeared: three atomic words (24 bytes) per address, updated with
// one atomic add each and no lock, so the request path never waits for a
// reader. Readers (the Admin API's stats) take differences of two
// snapshots for rates.
type trafficCounters struct {
	requests     atomic.Uint64
	errors       atomic.Uint64
	latencyNanos atomic.Uint64
}

// Traffic is a snapshot of an address's traffic counters, cumulative
// since the address first appeared in its upstream.
type Traffic struct {
	// Requests counts round trips to the address (retries count once each).
	Requests uint64
	// Errors counts round trips that ended with a transport error (no
	// response) or a 5xx status.
	Errors uint64
	// Latency is the sum of the round trips' durations, from sending the
	// request to receiving the response headers (Kong's upstream latency).
	Latency time.Duration
}

// Traffic returns a snapshot of the address's traffic counters. The three
// loads are not one atomic step: a round trip ending meanwhile may be
// counted in Requests and not yet in Latency, which a rate over a second
// does not notice.
func (s *State) Traffic() Traffic {
	return Traffic{
		Requests: s.traffic.requests.Load(),
		Errors:   s.traffic.errors.Load(),
		Latency:  time.Duration(s.traffic.latencyNanos.Load()),
	}
}

// RecordTraffic counts one proxied round trip to the address that took d,
// for the Admin API's live stats. It is lock-free and allocation-free and
// runs for every round trip, whether or not anyone reads the counters.
func (s *State) RecordTraffic(rt health.RoundTrip, d time.Duration) {
	t := &s.traffic
	t.requests.Add(1)
	if rt.Err != nil || rt.Status >= 500 {
		t.errors.Add(1)
	}
	if d > 0 {
		t.latencyNanos.Add(uint64(d))
	}
}
