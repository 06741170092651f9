package upstreams

import (
	"context"
	"reflect"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// records returns the store records of every entity of the config.
func (cfg *DeclarativeConfig) records() ([]Record, error) {
	var recs []Record
	add := func(rec Record, err error) error {
		if err == nil {
			recs = append(recs, rec)
		}
		return err
	}
	for _, s := range cfg.Services {
		if err := add(serviceKind.record(s)); err != nil {
			return nil, err
		}
	}
	for _, rt := range cfg.Routes {
		if err := add(routeKind.record(rt)); err != nil {
			return nil, err
		}
	}
	for _, u := range cfg.Upstreams {
		if err := add(upstreamRecord(u)); err != nil {
			return nil, err
		}
	}
	for _, t := range cfg.Targets {
		if err := add(targetRecord(t)); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// ReplaceDeclarative makes cfg the registry's whole content, as Kong's
// DB-less POST /config does: every service, route, upstream and target not
// in cfg is deleted, in the same store batch that writes cfg's, so the
// store and the proxy go from the old configuration to the new one at
// once or not at all. Per-address health state of upstreams that remain
// survives.
//
// An entity that keeps its id keeps its created_at, and its updated_at when
// nothing else changed, so re-posting the same file changes nothing.
func (r *Registry) ReplaceDeclarative(ctx context.Context, cfg *DeclarativeConfig) error {
	return r.write(ctx, func() (change, error) {
		if err := r.refuseSourcedTargetsLocked(cfg); err != nil {
			return change{}, err
		}
		if err := r.refuseManagedConfigLocked(cfg); err != nil {
			return change{}, err
		}
		cfg := r.carryTimestampsLocked(cfg)
		recs, err := cfg.records()
		if err != nil {
			return change{}, err
		}
		st, err := stateFromRecords(recs)
		if err != nil {
			return change{}, err
		}
		batch := Batch{Put: recs}
		// everything but the managed layer, which the store does not hold
		del := func(kind, id string) {
			if r.managedLabelLocked(kind, id) == "" {
				batch.Delete = append(batch.Delete, RecordRef{Kind: kind, ID: id})
			}
		}
		for id := range r.services.byID {
			del(ServiceSchema.Name, id)
		}
		for id := range r.routes.byID {
			del(RouteSchema.Name, id)
		}
		for _, ts := range r.targets {
			for id := range ts {
				del(TargetSchema.Name, id)
			}
		}
		for id := range r.upstreams {
			del(UpstreamSchema.Name, id)
		}
		return change{batch: batch, install: func() {
			r.installBatchLocked(batch.Delete, st)
			r.declared.Store(&declarativeStamp{hash: cfg.Hash, version: r.version.Load()})
		}}, nil
	})
}

// declarativeStamp is the hash of the last declarative config that
// replaced the registry's content, and the version it produced.
type declarativeStamp struct {
	hash    string
	version uint64
}

// DeclarativeHash returns the Hash of the declarative config that made the
// registry's current content, or "" when anything changed since (or none
// did).
func (r *Registry) DeclarativeHash() string {
	if d := r.declared.Load(); d != nil && d.version == r.version.Load() {
		return d.hash
	}
	return ""
}

// refuseSourcedTargetsLocked refuses a config that gives targets to an
// upstream whose targets come from a target source, as the Admin API
// refuses creating them. r.mu must be held for reading.
func (r *Registry) refuseSourcedTargetsLocked(cfg *DeclarativeConfig) error {
	byID := map[string]*Upstream{}
	for _, u := range cfg.Upstreams {
		byID[u.ID] = u
	}
	for _, t := range cfg.Targets {
		if u := byID[t.Upstream.ID]; u != nil {
			if err := r.refuseSourcedCreate(u); err != nil {
				return err
			}
		}
	}
	return nil
}

// carryTimestampsLocked returns a copy of cfg whose entities that exist
// with the same id have their timestamps (see ReplaceDeclarative). r.mu
// must be held for reading.
func (r *Registry) carryTimestampsLocked(cfg *DeclarativeConfig) *DeclarativeConfig {
	out := &DeclarativeConfig{Hash: cfg.Hash}
	for _, s := range cfg.Services {
		s = cloneOf(s)
		carry(s, r.services.byID[s.ID], func(e *Service) (*int64, *int64) { return &e.CreatedAt, &e.UpdatedAt })
		out.Services = append(out.Services, s)
	}
	for _, rt := range cfg.Routes {
		rt = cloneOf(rt)
		carry(rt, r.routes.byID[rt.ID], func(e *Route) (*int64, *int64) { return &e.CreatedAt, &e.UpdatedAt })
		out.Routes = append(out.Routes, rt)
	}
	for _, u := range cfg.Upstreams {
		u = cloneOf(u)
		carry(u, r.upstreams[u.ID], func(e *Upstream) (*int64, *int64) { return &e.CreatedAt, &e.UpdatedAt })
		out.Upstreams = append(out.Upstreams, u)
	}
	for _, t := range cfg.Targets {
		t = cloneOf(t)
		carry(t, r.targets[t.Upstream.ID][t.ID], func(e *Target) (*float64, *float64) { return &e.CreatedAt, &e.UpdatedAt })
		out.Targets = append(out.Targets, t)
	}
	return out
}

// carry gives e the created_at of old, the entity with its id, and old's
// updated_at when e would change nothing else.
func carry[T any, P interface {
	*T
	sansUpdatedAt() any
}, N int64 | float64](e, old P, stamps func(P) (created, updated *N)) {
	if old == nil {
		return
	}
	ec, eu := stamps(e)
	oc, ou := stamps(old)
	*ec = *oc
	if sameButUpdatedAt(e, old) {
		*eu = *ou
	}
}

// MergeDeclarative upserts cfg's entities, as loading a kong.yaml at start
// does: an entity of cfg replaces the registry's entity with the same id,
// or else the same name (services, routes, upstreams) or the same address
// in the same upstream (targets), keeping that entity's id and created_at;
// entities cfg does not mention are left alone, and entities that would
// not change are not rewritten. It writes one store batch: all or nothing.
func (r *Registry) MergeDeclarative(ctx context.Context, cfg *DeclarativeConfig) error {
	return r.write(ctx, func() (change, error) { return r.mergeDeclarativeLocked(cfg) })
}

// mergeDeclarativeLocked returns the change of MergeDeclarative. r.mu must
// be held for reading.
func (r *Registry) mergeDeclarativeLocked(cfg *DeclarativeConfig) (change, error) {
	if err := r.refuseSourcedTargetsLocked(cfg); err != nil {
		return change{}, err
	}
	if err := r.refuseManagedConfigLocked(cfg); err != nil {
		return change{}, err
	}
	// st is the content as it will be, to check cfg's entities against
	// each other; added holds what is written
	st, added := r.stateCopyLocked(), newRegistryState()
	var puts []Record
	put := func(rec Record, err error) error {
		if err == nil {
			puts = append(puts, rec)
		}
		return err
	}
	serviceIDs, upstreamIDs := map[string]string{}, map[string]string{}
	for _, s := range cfg.Services {
		s := cloneOf(s)
		if write, err := mergeNamed(&st.services, s, serviceIDs); err != nil || !write {
			if err != nil {
				return change{}, err
			}
			continue
		}
		added.services.put(s)
		if err := put(serviceKind.record(s)); err != nil {
			return change{}, err
		}
	}
	for _, rt := range cfg.Routes {
		rt := cloneOf(rt)
		if rt.Service != nil {
			rt.Service = &ForeignKey{ID: renamed(serviceIDs, rt.Service.ID)}
		}
		if write, err := mergeNamed(&st.routes, rt, nil); err != nil || !write {
			if err != nil {
				return change{}, err
			}
			continue
		}
		added.routes.put(rt)
		if err := put(routeKind.record(rt)); err != nil {
			return change{}, err
		}
	}
	for _, u := range cfg.Upstreams {
		u := cloneOf(u)
		old := st.upstreams[u.ID]
		if old == nil {
			old = st.upstreams[st.names[u.Name]]
		}
		if old != nil {
			upstreamIDs[u.ID] = old.ID
			u.ID, u.CreatedAt = old.ID, old.CreatedAt
			if sameButUpdatedAt(u, old) {
				continue
			}
		}
		if id, taken := st.names[u.Name]; taken && id != u.ID {
			return change{}, schema.UniqueViolation(map[string]any{"name": u.Name})
		}
		st.addUpstream(u)
		added.addUpstream(u)
		if err := put(upstreamRecord(u)); err != nil {
			return change{}, err
		}
	}
	for _, t := range cfg.Targets {
		t := cloneOf(t)
		t.Upstream.ID = renamed(upstreamIDs, t.Upstream.ID)
		var old *Target
		for _, o := range st.targets[t.Upstream.ID] {
			if o.ID == t.ID || o.Target == t.Target {
				old = o
			}
		}
		if old != nil {
			t.ID, t.CreatedAt = old.ID, old.CreatedAt
			if sameButUpdatedAt(t, old) {
				continue
			}
		}
		st.addTarget(t)
		added.addTarget(t)
		if err := put(targetRecord(t)); err != nil {
			return change{}, err
		}
	}
	return change{batch: Batch{Put: puts}, install: func() { r.installBatchLocked(nil, added) }}, nil
}

// stateCopyLocked returns a copy of the registry's content whose maps may
// be changed without touching the registry's. r.mu must be held (for
// reading at least).
func (r *Registry) stateCopyLocked() *registryState {
	st := newRegistryState()
	st.addAll(&registryState{upstreams: r.upstreams, names: r.byName, targets: r.targets, services: r.services, routes: r.routes})
	return st
}

func cloneOf[T any](e *T) *T {
	c := *e
	return &c
}

// renamed maps an id of the config to the id of the entity it replaced.
func renamed(ids map[string]string, id string) string {
	if to, ok := ids[id]; ok {
		return to
	}
	return id
}

// sameButUpdatedAt reports whether two entities differ at most in
// updated_at.
func sameButUpdatedAt(a, b interface{ sansUpdatedAt() any }) bool {
	return reflect.DeepEqual(a.sansUpdatedAt(), b.sansUpdatedAt())
}

func (s *Service) sansUpdatedAt() any  { c := *s; c.UpdatedAt = 0; return c }
func (r *Route) sansUpdatedAt() any    { c := *r; c.UpdatedAt = 0; return c }
func (u *Upstream) sansUpdatedAt() any { c := *u; c.UpdatedAt = 0; return c }
func (t *Target) sansUpdatedAt() any   { c := *t; c.UpdatedAt = 0; return c }

// mergeNamed puts a service or route of a declarative config into idx: it
// takes the id and created_at of the entity with its id, or else its name,
// recording a changed id in ids (nil: not recorded). It reports whether e
// is to be written (false: it would change nothing).
func mergeNamed[P named](idx *namedIndex[P], e P, ids map[string]string) (bool, error) {
	id, created := e.identity()
	old := idx.byID[*id]
	if old == nil && e.entityName() != "" {
		old = idx.lookup(e.entityName())
	}
	if old != nil {
		oldID, oldCreated := old.identity()
		if ids != nil {
			ids[*id] = *oldID
		}
		*id, *created = *oldID, *oldCreated
		if sameButUpdatedAt(e, old) {
			return false, nil
		}
	}
	if idx.nameTaken(e) {
		return false, schema.UniqueViolation(map[string]any{"name": e.entityName()})
	}
	idx.put(e)
	return true, nil
}

// Export returns every entity as a declarative-config entry by kind
// ("services", "routes", "upstreams", "targets"): its JSON-shaped fields
// without nulls and timestamps, references by id. POST /config of the
// export recreates the same entities. The managed layer is left out: its
// controller publishes it, the store never holds it.
func (r *Registry) Export() map[string][]map[string]any {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[string][]map[string]any{}
	add := func(kind string, e any) {
		m := EntityMap(e)
		if id, _ := m["id"].(string); r.managedLabelLocked(kind, id) != "" {
			return
		}
		for k, v := range m {
			if v == nil || k == "created_at" || k == "updated_at" {
				delete(m, k)
			}
		}
		out[kind] = append(out[kind], m)
	}
	for _, s := range r.services.byID {
		add(ServiceSchema.Name, s)
	}
	for _, rt := range r.routes.byID {
		add(RouteSchema.Name, rt)
	}
	for _, u := range r.upstreams {
		add(UpstreamSchema.Name, u)
	}
	for _, ts := range r.targets {
		for _, t := range ts {
			add(TargetSchema.Name, t)
		}
	}
	return out
}
