package upstreams

import (
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"

	"sync"
	"time"
)

// healthKeptAfterDelete is how long the address states of a deleted (or
// renamed) upstream are kept for an upstream re-created with the same
// name: Kong's CLEAR_HEALTH_STATUS_DELAY, after which its health checker
// clears what it knew.
const healthKeptAfterDelete = 300 * time.Second

// addressStates holds the balance.State of every address, keyed as Kong's
// health checker keys health: by upstream name, then by target hostname
// and address (see Address.stateKey). Two targets whose names resolve to
// the same ip:port so keep separate health, and an upstream deleted and
// re-created with the same name and targets finds its targets' health.
// It is read when pools are built, never by requests.
type addressStates struct {
	mu sync.Mutex
	m  map[string]map[string]*balance.State // upstream name -> state key -> state
	// retired holds the states of upstream names no upstream has any
	// more, until they are taken back or cleared.
	retired    map[string]*retiredStates
	retirement uint64
}

// retiredStates are the states of a retired upstream name and the
// generation of its retirement.
type retiredStates struct {
	states map[string]*balance.State
	gen    uint64
}

// get returns the state of an address of the named upstream, taking it
// back from the name's retired states if it is there.
func (as *addressStates) get(upstreamName, key string) *balance.State {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.m == nil {
		as.m = map[string]map[string]*balance.State{}
	}
	byKey := as.m[upstreamName]
	if byKey == nil {
		byKey = map[string]*balance.State{}
		as.m[upstreamName] = byKey
	}
	st := byKey[key]
	if st == nil {
		if r := as.retired[upstreamName]; r != nil && r.states[key] != nil {
			st = r.states[key]
			delete(r.states, key)
		} else {
			st = &balance.State{}
		}
		byKey[key] = st
	}
	return st
}

// retain drops the states of a published upstream's addresses that are no
// longer in use.
func (as *addressStates) retain(upstreamName string, keys map[string]bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	for k := range as.m[upstreamName] {
		if !keys[k] {
			delete(as.m[upstreamName], k)
		}
	}
	if len(as.m[upstreamName]) == 0 {
		delete(as.m, upstreamName)
	}
}

// retire sets aside the states of an upstream name that no upstream has
// any more, as Kong's health checker keeps a deleted upstream's health:
// an upstream published under that name within healthKeptAfterDelete
// takes its addresses' states back, the others are dropped then.
func (as *addressStates) retire(upstreamName string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	states := as.m[upstreamName]
	if len(states) == 0 {
		return
	}
	delete(as.m, upstreamName)
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

// stateKey identifies an address's state within its upstream: the dial
// address for an IP target (or a hostname dialled by name), else the
// target and the resolved address, so that two targets resolving to the
// same ip:port keep separate health, as in Kong. It allocates only for
// resolved addresses, and only when a pool is built.
func (a *Address) stateKey() string {
	if a.Name == "" {
		return a.Dial
	}
	return a.Target.Target + " " + a.Dial
}
