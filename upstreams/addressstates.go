package upstreams

import (
	"sync"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
)

// healthKeptAfterDelete is how long the address states of a deleted (or
// renamed) upstream are kept for an upstream re-created with the same
// name: Kong's CLEAR_HEALTH_STATUS_DELAY, after which its health checker
// clears what it knew.
const healthKeptAfterDelete = 300 * time.Second

// addressStates keeps the balance.State of the addresses of upstream names
// that no published pool has any more. The states of a published upstream
// live in its pool's addresses only (no registry-wide map, which cost
// about 45 B per target): a pool built for an upstream name takes them
// from the pool it replaces (see stateFinder). States are keyed as Kong's
// health checker keys health: by upstream name, then by target hostname
// and address (see Address.stateKey), so two targets whose names resolve
// to the same ip:port keep separate health, and an upstream deleted and
// re-created with the same name and targets finds its targets' health.
// It is read when pools are built, never by requests.
type addressStates struct {
	mu sync.Mutex
	// retired holds the states of upstream names no upstream has any
	// more, until they are taken back or cleared.
	retired    map[string]*retiredStates
	retirement uint64
}

// retiredStates are the states of a retired upstream name and the
// generation of its retirement.
type retiredStates struct {
	states map[stateKey]*balance.State
	gen    uint64
}

// stateKey identifies an address's state within its upstream: the dial
// address for an IP target (or a hostname dialled by name), else the
// target and the resolved address, so that two targets resolving to the
// same ip:port keep separate health, as in Kong.
type stateKey struct {
	target string // the target's normalised host:port for a resolved address, else ""
	dial   string
}

// String is the key as one string ("dial", or "target dial"), as the
// active checker keys its probes; it allocates only for resolved
// addresses.
func (k stateKey) String() string {
	if k.target == "" {
		return k.dial
	}
	return k.target + " " + k.dial
}

// stateKey is the key of a's state; it allocates nothing.
func (a *Address) stateKey() stateKey {
	if a.Name == "" {
		return stateKey{dial: a.Dial}
	}
	return stateKey{target: a.Target.Target, dial: a.Dial}
}

// stateFinder finds the states of the addresses of a pool being built for
// an upstream name: those of the pool it replaces, else those the name's
// retirement set aside, else new ones. Addresses with the same key in one
// pool share a state.
type stateFinder struct {
	states *addressStates
	name   string
	known  map[stateKey]*balance.State
}

// newStateFinder returns the finder of the states for a pool of the named
// upstream replacing prev (nil for the name's first pool).
func (as *addressStates) newStateFinder(name string, prev *Pool) *stateFinder {
	f := &stateFinder{states: as, name: name}
	if prev != nil {
		f.known = statesOf(prev)
	} else {
		f.known = map[stateKey]*balance.State{}
	}
	return f
}

// statesOf maps the addresses of p to their states.
func statesOf(p *Pool) map[stateKey]*balance.State {
	m := make(map[stateKey]*balance.State, len(p.Addresses))
	for i := range p.Addresses {
		a := &p.Addresses[i]
		m[a.stateKey()] = a.State
	}
	return m
}

// get returns the state of the address with key k.
func (f *stateFinder) get(k stateKey) *balance.State {
	if st := f.known[k]; st != nil {
		return st
	}
	st := f.states.takeRetired(f.name, k)
	if st == nil {
		st = &balance.State{}
	}
	f.known[k] = st
	return st
}

// takeRetired takes the state of key k of a retired upstream name back,
// or returns nil.
func (as *addressStates) takeRetired(upstreamName string, k stateKey) *balance.State {
	as.mu.Lock()
	defer as.mu.Unlock()
	r := as.retired[upstreamName]
	if r == nil {
		return nil
	}
	st := r.states[k]
	delete(r.states, k)
	return st
}

// retire sets aside the states of the addresses of pool p, whose upstream
// name no upstream has any more, as Kong's health checker keeps a deleted
// upstream's health: a pool built under that name within
// healthKeptAfterDelete takes its addresses' states back, the others are
// dropped then. p may be nil (the name had no pool).
func (as *addressStates) retire(upstreamName string, p *Pool) {
	if p == nil || len(p.Addresses) == 0 {
		return
	}
	states := statesOf(p)
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.retired == nil {
		as.retired = map[string]*retiredStates{}
	}
	as.retirement++
	r := as.retired[upstreamName]
	if r == nil {
		r = &retiredStates{states: states}
		as.retired[upstreamName] = r
	} else {
		for k, st := range states {
			r.states[k] = st
		}
	}
	r.gen = as.retirement
	gen := r.gen
	time.AfterFunc(healthKeptAfterDelete, func() { as.clearRetired(upstreamName, gen) })
}

// clearRetired drops a retired name's states left if retirement gen is
// still the name's latest.
func (as *addressStates) clearRetired(upstreamName string, gen uint64) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if r := as.retired[upstreamName]; r != nil && r.gen == gen {
		delete(as.retired, upstreamName)
	}
}
