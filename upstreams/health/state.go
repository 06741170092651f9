// Package health decides whether an address may receive traffic, as
// Kong's health checker does: the healthy/unhealthy state of each address
// and its consecutive-observation counters, the classification of probe
// and proxied results, the active probes, and the metrics, logs and
// events a state change produces. It knows nothing of the registry: the
// upstreams package hands it addresses and their settings.
package health

import "sync/atomic"

// State is the health of one address: whether it may receive traffic and
// the counters that decide when that changes. The zero value is healthy.
type State struct {
	// unhealthy is set by health checking; unhealthy addresses get no traffic.
	unhealthy atomic.Bool
	counters  counters
}

// Healthy reports whether the address may receive traffic.
func (s *State) Healthy() bool { return !s.unhealthy.Load() }

// SetHealthy marks the address healthy or unhealthy and reports whether
// that changed its state.
func (s *State) SetHealthy(healthy bool) bool {
	return s.unhealthy.Swap(!healthy) != !healthy
}

// ForceHealthy is a manual healthy/unhealthy: it sets the state and clears
// the health counters, as Kong's set_target_status does.
func (s *State) ForceHealthy(healthy bool) {
	s.counters.clear()
	s.SetHealthy(healthy)
}
