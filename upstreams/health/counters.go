package health

import (
	"math"
	"sync"
)

// Report is one health observation of an address.
type Report int

// Health observations, as Kong's health checker counts them.
const (
	Success Report = iota
	HTTPFailure
	TCPFailure
	Timeout
	// Ignored is a status in neither list: it changes no counter.
	Ignored Report = -1
)

// String is the observation's name in metrics: success, http_failure,
// tcp_failure, timeout or ignored.
func (r Report) String() string {
	switch r {
	case Success:
		return "success"
	case HTTPFailure:
		return "http_failure"
	case TCPFailure:
		return "tcp_failure"
	case Timeout:
		return "timeout"
	default:
		return "ignored"
	}
}

// Limits are the consecutive-observation thresholds of one checker
// (active or passive); 0 disables a counter.
type Limits struct {
	Successes, HTTPFailures, TCPFailures, Timeouts int
}

// counters are an address's consecutive-observation counters, with
// Kong's (lua-resty-healthcheck) rules: a success clears the failure
// counters, any failure clears the success counter, a counter whose limit
// is 0 is ignored, an observation that agrees with the settled state
// changes nothing, and reaching a limit flips the state.
type counters struct {
	mu sync.Mutex
	// uint8: limits are at most 255 (Kong's schema), and the state of an
	// address (one per address, kept for every target) stays small: with
	// these four bytes balance.State fits in 80 B instead of 96.
	successes, httpFailures, tcpFailures, timeouts uint8
}

// Observe records an observation of the address and returns the new
// health when the observation flipped it. Active and passive checks share
// the counters, as in Kong.
func (s *State) Observe(r Report, l Limits) (flipped, healthy bool) {
	if r == Ignored {
		return false, s.Healthy()
	}
	c := &s.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	isHealthy := s.Healthy()
	var count *uint8
	limit := 0
	switch r {
	case Success:
		count, limit = &c.successes, l.Successes
	case HTTPFailure:
		count, limit = &c.httpFailures, l.HTTPFailures
	case TCPFailure:
		count, limit = &c.tcpFailures, l.TCPFailures
	case Timeout:
		count, limit = &c.timeouts, l.Timeouts
	}
	if limit == 0 {
		return false, isHealthy
	}
	if (r == Success) == isHealthy {
		// agrees with the settled state: nothing to count
		c.reset()
		return false, isHealthy
	}
	if r == Success {
		c.httpFailures, c.tcpFailures, c.timeouts = 0, 0, 0
	} else {
		c.successes = 0
	}
	*count++
	// A limit above 255 (out of Kong's schema) acts as 255: the counter
	// cannot count further.
	if int(*count) < limit && *count < math.MaxUint8 {
		return false, isHealthy
	}
	c.reset()
	s.SetHealthy(r == Success)
	return true, r == Success
}

func (c *counters) reset() {
	c.successes, c.httpFailures, c.tcpFailures, c.timeouts = 0, 0, 0, 0
}

// clear clears the counters, as a manual healthy/unhealthy does.
func (c *counters) clear() {
	c.mu.Lock()
	c.reset()
	c.mu.Unlock()
}
