package upstreams

import (
	"encoding/json"
	"fmt"
)

// registryState is the whole content of a registry, as Reload reads it
// from the store.
type registryState struct {
	upstreams map[string]*Upstream          // by id
	names     map[string]string             // upstream name -> id
	targets   map[string]map[string]*Target // upstream id -> target id -> target
}

// stateFromRecords decodes a store's records.
func stateFromRecords(recs []Record) (*registryState, error) {
	st := &registryState{upstreams: map[string]*Upstream{}, names: map[string]string{}, targets: map[string]map[string]*Target{}}
	for _, rec := range recs {
		switch rec.Kind {
		case UpstreamSchema.Name:
			u := new(Upstream)
			if err := json.Unmarshal(rec.Data, u); err != nil {
				return nil, fmt.Errorf("decoding upstream %s: %w", rec.ID, err)
			}
			st.upstreams[u.ID] = u
			st.names[u.Name] = u.ID
		case TargetSchema.Name:
			t := new(Target)
			if err := json.Unmarshal(rec.Data, t); err != nil {
				return nil, fmt.Errorf("decoding target %s: %w", rec.ID, err)
			}
			if st.targets[t.Upstream.ID] == nil {
				st.targets[t.Upstream.ID] = map[string]*Target{}
			}
			st.targets[t.Upstream.ID][t.ID] = t
		}
	}
	return st, nil
}

// installLocked makes st the registry's content: pools of upstreams that
// are gone or renamed are withdrawn (their health checks and hostname
// watchers stopped), every pool is republished. Per-address state of the
// upstreams that remain survives. r.mu must be held.
func (r *Registry) installLocked(st *registryState) {
	oldNames := r.byName
	r.upstreams, r.byName, r.targets = st.upstreams, st.names, st.targets
	for name, id := range oldNames {
		if st.names[name] != id {
			r.pools.Delete(name)
			if _, still := st.upstreams[id]; !still {
				r.states.retain(id, nil)
				r.checker.stop(id)
				r.hosts.stop(id)
			}
		}
	}
	r.version.Add(1)
	for id := range st.upstreams {
		r.publishLocked(id)
	}
}
