package upstreams

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Pool is the immutable, ready-to-balance view of one upstream that the
// proxy reads on every request without taking a lock. A change to the
// upstream or its targets builds a new Pool off the request path and
// publishes it atomically; per-address state (in-flight counts, health)
// lives in AddressState values that survive the swap.
type Pool struct {
	// Upstream is the entity the pool was built from. Read only.
	Upstream *Upstream
	// Addresses are the balanced addresses of the upstream's targets, in
	// target creation order, weight-0 targets included.
	Addresses []*Address
	// Version is the registry version that published this pool.
	Version uint64

	balancer balancer
	// passive are the passive health-check limits; zero when off.
	passive healthLimits
	// signals report health changes made by passive checks.
	signals *healthSignals
}

// Address is one balanced host:port of a target.
type Address struct {
	// Target is the entity the address came from. Read only.
	Target *Target
	// Host is the IP or hostname, without brackets.
	Host string
	// Port is the TCP port.
	Port int
	// Dial is the address reverse_proxy dials ("host:port", IPv6 bracketed).
	Dial string
	// Weight is the address's share of traffic; 0 takes none.
	Weight int
	// State is the address's mutable runtime state, shared by every pool
	// generation of the same upstream.
	State *AddressState
}

// AddressState is the runtime state of one address of one upstream. It is
// keyed by upstream id and dial address, so it survives pool rebuilds.
type AddressState struct {
	// InFlight counts requests currently proxied to the address.
	InFlight atomic.Int64
	// unhealthy is set by health checking; unhealthy addresses get no traffic.
	unhealthy atomic.Bool
	// counters count consecutive health observations.
	counters healthCounters
	// latency is the response-time EWMA of the latency algorithm.
	latency latencyEWMA
}

// Healthy reports whether the address may receive traffic.
func (s *AddressState) Healthy() bool { return !s.unhealthy.Load() }

// SetHealthy marks the address healthy or unhealthy and reports whether
// that changed its state.
func (s *AddressState) SetHealthy(healthy bool) bool {
	return s.unhealthy.Swap(!healthy) != !healthy
}

// ForceHealthy is a manual healthy/unhealthy: it sets the state and clears
// the health counters, as Kong's set_target_status does.
func (s *AddressState) ForceHealthy(healthy bool) {
	s.counters.resetCounters()
	s.SetHealthy(healthy)
}

// Available reports whether the address can take a request now.
func (a *Address) Available() bool { return a.Weight > 0 && a.State.Healthy() }

// addressStates holds the AddressState of every address, keyed by
// upstream id then dial address.
type addressStates struct {
	mu sync.Mutex
	m  map[string]map[string]*AddressState
}

func (as *addressStates) get(upstreamID, dial string) *AddressState {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.m == nil {
		as.m = map[string]map[string]*AddressState{}
	}
	byDial := as.m[upstreamID]
	if byDial == nil {
		byDial = map[string]*AddressState{}
		as.m[upstreamID] = byDial
	}
	st := byDial[dial]
	if st == nil {
		st = &AddressState{}
		byDial[dial] = st
	}
	return st
}

// retain drops the states of an upstream's addresses that are no longer in use.
func (as *addressStates) retain(upstreamID string, dials map[string]bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if dials == nil {
		delete(as.m, upstreamID)
		return
	}
	for d := range as.m[upstreamID] {
		if !dials[d] {
			delete(as.m[upstreamID], d)
		}
	}
}

// newPool builds a pool for u and its targets (in creation order).
func newPool(u *Upstream, targets []*Target, states *addressStates, version uint64) *Pool {
	p := &Pool{Upstream: u, Version: version, passive: passiveLimits(u.Healthchecks)}
	used := make(map[string]bool, len(targets))
	for _, t := range targets {
		host, port, ok := schema.ParseTarget(t.Target)
		if !ok {
			continue
		}
		dial, host := sharedDial(t.Target, host, port)
		used[dial] = true
		p.Addresses = append(p.Addresses, &Address{
			Target: t, Host: host, Port: port, Dial: dial, Weight: t.Weight,
			State: states.get(u.ID, dial),
		})
	}
	states.retain(u.ID, used)
	p.balancer = newBalancer(u, p.Addresses)
	return p
}

// sharedDial returns the dial address of host:port and the host, reusing
// the bytes of the normalised target string when they spell the same, so
// that an address costs no strings of its own (memory per target).
func sharedDial(target, host string, port int) (dial, sharedHost string) {
	dial = net.JoinHostPort(host, strconv.Itoa(port))
	if dial != target {
		return dial, host
	}
	dial = target
	if i := strings.Index(dial, host); i >= 0 {
		host = dial[i : i+len(host)]
	}
	return dial, host
}

// Pick chooses an available address for a request, skipping the addresses
// already tried by the request's earlier attempts when an untried one is
// left. It returns nil when no address is available.
func (p *Pool) Pick(req *PickRequest) *Address {
	if len(p.Addresses) == 0 {
		return nil
	}
	i := p.balancer.pick(p, req)
	if i < 0 && req != nil && req.triedCount() > 0 {
		// every available address was tried: start over, as Kong does.
		saved := req.tried
		req.tried = nil
		i = p.balancer.pick(p, req)
		req.tried = saved
	}
	if i < 0 {
		return nil
	}
	return p.Addresses[i]
}

// usable reports whether address i may be chosen for req.
func (p *Pool) usable(i int, req *PickRequest) bool {
	a := p.Addresses[i]
	return a.Available() && (req == nil || !req.wasTried(a.Dial))
}

// Healthy applies Kong's threshold rule: with health checks on, the
// upstream is healthy only while the available share of its weight is
// strictly above healthchecks.threshold percent. It costs O(addresses)
// only for upstreams with a threshold above 0.
func (p *Pool) Healthy() bool {
	th := p.Upstream.Healthchecks.Threshold
	if th <= 0 || !p.Upstream.Healthchecks.Enabled() {
		return true
	}
	available, total := p.AvailableWeight()
	return total > 0 && float64(available)/float64(total)*100 > th
}

// AvailableWeight returns the total weight of addresses that can take traffic.
func (p *Pool) AvailableWeight() (available, total int) {
	for _, a := range p.Addresses {
		total += a.Weight
		if a.Available() {
			available += a.Weight
		}
	}
	return available, total
}
