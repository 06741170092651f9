package upstreams

import (
	"encoding/json"
	"fmt"
)

// registryState is the whole content of a registry: what Reload reads from
// the store and what a declarative config replaces in one go.
type registryState struct {
	upstreams map[string]*Upstream          // by id
	names     map[string]string             // upstream name -> id
	targets   map[string]map[string]*Target // upstream id -> target id -> target
	services  namedIndex[*Service]
	routes    namedIndex[*Route]
}

func newRegistryState() *registryState {
	return &registryState{
		upstreams: map[string]*Upstream{}, names: map[string]string{}, targets: map[string]map[string]*Target{},
		services: newNamedIndex[*Service](), routes: newNamedIndex[*Route](),
	}
}

func (st *registryState) addUpstream(u *Upstream) {
	if old := st.upstreams[u.ID]; old != nil && st.names[old.Name] == u.ID {
		delete(st.names, old.Name)
	}
	st.upstreams[u.ID] = u
	st.names[u.Name] = u.ID
}

func (st *registryState) addTarget(t *Target) {
	if st.targets[t.Upstream.ID] == nil {
		st.targets[t.Upstream.ID] = map[string]*Target{}
	}
	st.targets[t.Upstream.ID][t.ID] = t
}

// stateFromRecords decodes a store's records.
func stateFromRecords(recs []Record) (*registryState, error) {
	st := newRegistryState()
	for _, rec := range recs {
		var err error
		switch rec.Kind {
		case ServiceSchema.Name:
			var s *Service
			if s, err = unmarshalEntity[Service](rec.Data); err == nil {
				st.services.put(s)
			}
		case RouteSchema.Name:
			var rt *Route
			if rt, err = unmarshalEntity[Route](rec.Data); err == nil {
				st.routes.put(rt)
			}
		case UpstreamSchema.Name:
			var u *Upstream
			if u, err = unmarshalEntity[Upstream](rec.Data); err == nil {
				st.addUpstream(u)
			}
		case TargetSchema.Name:
			var t *Target
			if t, err = unmarshalEntity[Target](rec.Data); err == nil {
				st.addTarget(t)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", rec.Kind, rec.ID, err)
		}
	}
	st.shareUpstreamIDs()
	return st, nil
}

// shareUpstreamIDs makes the targets of st refer to their upstream by the
// upstream's own id string: decoded, each target holds a copy (48 B per
// target, as keepTargetLocked avoids for targets created through the
// API). Only for freshly decoded targets: published ones are read
// without the registry's lock.
func (st *registryState) shareUpstreamIDs() {
	// Keyed anew, by the upstream's string: a key is the first target's copy.
	byUpstream := make(map[string]map[string]*Target, len(st.targets))
	for id, ts := range st.targets {
		if u := st.upstreams[id]; u != nil {
			for _, t := range ts {
				t.Upstream.ID = u.ID
			}
			id = u.ID
		}
		byUpstream[id] = ts
	}
	st.targets = byUpstream
}

func unmarshalEntity[T any](data []byte) (*T, error) {
	e := new(T)
	if err := json.Unmarshal(data, e); err != nil {
		return nil, err
	}
	return e, nil
}

// installLocked makes st the registry's content: pools of upstreams that
// are gone or renamed are withdrawn (their health checks and hostname
// watchers stopped), every
// pool and the gateway snapshot are republished. The managed layer, if
// any, is added to st first. Per-address state of the upstreams that
// remain survives, and that of an upstream deleted and re-created under
// the same name too. r.mu must be held.
func (r *Registry) installLocked(st *registryState) {
	r.overlayManagedLocked(st)
	oldNames := r.byName
	r.upstreams, r.byName, r.targets = st.upstreams, st.names, st.targets
	r.services, r.routes = st.services, st.routes
	for name, id := range oldNames {
		if st.names[name] != id {
			r.withdrawPoolLocked(name) // a re-created upstream of that name takes its states back
			if _, still := st.upstreams[id]; !still {
				r.forgetUpstreamLocked(id)
			}
		}
	}
	r.version.Add(1)
	for id := range st.upstreams {
		r.publishLocked(id)
	}
	r.publishGatewayLocked()
}

// installBatchLocked installs a stored batch, deletes then puts (decoded),
// onto the registry's content as it is now (a Reload may have changed it
// since the batch was made), as the store applied it. r.mu must be held.
func (r *Registry) installBatchLocked(deletes []RecordRef, puts *registryState) {
	st := r.stateCopyLocked()
	for _, ref := range deletes {
		st.remove(ref)
	}
	st.addAll(puts)
	r.installLocked(st)
}

// remove deletes an entity and, as the store does, the entities whose
// parent it is: an upstream's targets, a service's routes.
func (st *registryState) remove(ref RecordRef) {
	switch ref.Kind {
	case UpstreamSchema.Name:
		if u := st.upstreams[ref.ID]; u != nil && st.names[u.Name] == ref.ID {
			delete(st.names, u.Name)
		}
		delete(st.upstreams, ref.ID)
		delete(st.targets, ref.ID)
	case TargetSchema.Name:
		for _, ts := range st.targets {
			delete(ts, ref.ID)
		}
	case ServiceSchema.Name:
		if s := st.services.byID[ref.ID]; s != nil {
			st.services.remove(s)
		}
		for _, rt := range st.routes.byID {
			if rt.ServiceID() == ref.ID {
				st.routes.remove(rt)
			}
		}
	case RouteSchema.Name:
		if rt := st.routes.byID[ref.ID]; rt != nil {
			st.routes.remove(rt)
		}
	}
}

// addAll adds (or replaces) every entity of from.
func (st *registryState) addAll(from *registryState) {
	for _, s := range from.services.byID {
		st.services.put(s)
	}
	for _, rt := range from.routes.byID {
		st.routes.put(rt)
	}
	for _, u := range from.upstreams {
		st.addUpstream(u)
	}
	for _, ts := range from.targets {
		for _, t := range ts {
			st.addTarget(t)
		}
	}
}
