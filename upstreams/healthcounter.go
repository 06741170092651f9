package upstreams

import "sync"

// healthReport is one health observation of an address.
type healthReport int

// Health observations, as Kong's health checker counts them.
const (
	reportSuccess healthReport = iota
	reportHTTPFailure
	reportTCPFailure
	reportTimeout
	// reportIgnored is a status in neither list: it changes no counter.
	reportIgnored healthReport = -1
)

// healthLimits are the consecutive-observation thresholds of one checker
// (active or passive); 0 disables a counter.
type healthLimits struct {
	successes, httpFailures, tcpFailures, timeouts int
}

// healthCounters are an address's consecutive-observation counters, with
// Kong's (lua-resty-healthcheck) rules: a success clears the failure
// counters, any failure clears the success counter, a counter whose limit
// is 0 is ignored, an observation that agrees with the settled state
// changes nothing, and reaching a limit flips the state.
type healthCounters struct {
	mu sync.Mutex
	// int32: limits are at most 255 (Kong's schema), and an AddressState
	// (one per address) stays within 64 bytes.
	successes, httpFailures, tcpFailures, timeouts int32
}

// observe records an observation for s and returns the new health when the
// observation flipped it.
func (c *healthCounters) observe(s *AddressState, r healthReport, l healthLimits) (flipped, healthy bool) {
	if r == reportIgnored {
		return false, s.Healthy()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	isHealthy := s.Healthy()
	var count *int32
	limit := 0
	switch r {
	case reportSuccess:
		count, limit = &c.successes, l.successes
	case reportHTTPFailure:
		count, limit = &c.httpFailures, l.httpFailures
	case reportTCPFailure:
		count, limit = &c.tcpFailures, l.tcpFailures
	case reportTimeout:
		count, limit = &c.timeouts, l.timeouts
	}
	if limit == 0 {
		return false, isHealthy
	}
	if (r == reportSuccess) == isHealthy {
		// agrees with the settled state: nothing to count
		c.reset()
		return false, isHealthy
	}
	if r == reportSuccess {
		c.httpFailures, c.tcpFailures, c.timeouts = 0, 0, 0
	} else {
		c.successes = 0
	}
	*count++
	if int(*count) < limit {
		return false, isHealthy
	}
	c.reset()
	s.SetHealthy(r == reportSuccess)
	return true, r == reportSuccess
}

func (c *healthCounters) reset() {
	c.successes, c.httpFailures, c.tcpFailures, c.timeouts = 0, 0, 0, 0
}

// resetCounters clears the counters, as a manual healthy/unhealthy does.
func (c *healthCounters) resetCounters() {
	c.mu.Lock()
	c.reset()
	c.mu.Unlock()
}
