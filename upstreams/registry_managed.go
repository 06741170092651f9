package upstreams

import (
	"context"
	"reflect"
	"slices"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// managedLayer is the part of the registry's content that a controller
// (the Kubernetes Ingress controller) publishes whole: services, routes and
// upstreams held in this node's memory only, never written to the store,
// listed, routed and balanced like the store's, and read-only in the Admin
// API. The upstreams' targets are source targets: each managed upstream
// has a sourceBinding fed with the endpoints the controller reports.
type managedLayer struct {
	owner    any    // the controller run that may replace or clear the layer
	label    string // how refusals name the controller
	state    *registryState
	bindings map[string]*sourceBinding // upstream name -> its binding
}

// ManagedEntities is what a controller publishes with SetManaged: Kong
// services, routes and upstreams (complete, as BuildDeclarative returns
// them; Targets is ignored), and each upstream's endpoints by upstream name.
type ManagedEntities struct {
	Config    *DeclarativeConfig
	Endpoints map[string][]targets.Endpoint
}

// SetManaged makes the given entities the registry's managed layer,
// replacing the previous one, on behalf of owner (label names it in the
// Admin API's refusals, e.g. "Kubernetes Ingress controller"). An entity
// that keeps its id keeps its timestamps; when only endpoints changed, only
// the pools of the upstreams concerned are rebuilt. A call from an owner
// that another has superseded (see AdoptManaged) is ignored.
func (r *Registry) SetManaged(owner any, label string, m ManagedEntities) {
	if m.Config == nil {
		m.Config = &DeclarativeConfig{}
	}
	// serialise with writes, whose checks (names, refusals) read the layer
	_ = r.lockWrites(context.Background())
	defer r.unlockWrites()
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.managed
	if old != nil && old.owner != owner && old.owner != nil {
		return
	}
	cfg := r.carryTimestampsLocked(m.Config)
	next := newRegistryState()
	for _, s := range cfg.Services {
		next.services.put(s)
	}
	for _, rt := range cfg.Routes {
		next.routes.put(rt)
	}
	for _, u := range cfg.Upstreams {
		next.addUpstream(u)
	}
	if old != nil && reflect.DeepEqual(old.state, next) {
		old.owner, old.label = owner, label
		r.setManagedEndpointsLocked(old, m.Endpoints, false)
		return
	}
	st := r.stateCopyLocked()
	if old != nil {
		old.removeFrom(st)
	}
	layer := &managedLayer{owner: owner, label: label, state: next, bindings: map[string]*sourceBinding{}}
	if old != nil {
		layer.bindings = old.bindings
	}
	r.managed = layer
	r.setManagedEndpointsLocked(layer, m.Endpoints, true)
	r.installLocked(st)
}

// AdoptManaged makes owner the managed layer's owner without changing its
// content: a reloaded config's controller takes the layer over before the
// previous config's controller stops, so stopping that one clears nothing
// and requests never find the routes gone.
func (r *Registry) AdoptManaged(owner any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.managed != nil {
		r.managed.owner = owner
	}
}

// ClearManaged removes the managed layer, its entities and their targets,
// if owner still owns it.
func (r *Registry) ClearManaged(owner any) {
	_ = r.lockWrites(context.Background())
	defer r.unlockWrites()
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.managed
	if old == nil || old.owner != owner {
		return
	}
	st := r.stateCopyLocked()
	old.removeFrom(st)
	for name, b := range old.bindings {
		if r.bindings[name] == b {
			delete(r.bindings, name)
		}
	}
	r.managed = nil
	r.installLocked(st)
}

// setManagedEndpointsLocked gives each managed upstream its binding and
// endpoints and drops the bindings of upstreams the layer no longer has.
// Unless the whole content is reinstalled next (all), the pools of the
// upstreams whose endpoints changed are republished. r.mu must be held.
func (r *Registry) setManagedEndpointsLocked(layer *managedLayer, endpoints map[string][]targets.Endpoint, all bool) {
	if r.bindings == nil {
		r.bindings = map[string]*sourceBinding{}
	}
	for name, b := range layer.bindings {
		if _, still := layer.state.names[name]; !still {
			if r.bindings[name] == b {
				delete(r.bindings, name)
			}
			delete(layer.bindings, name)
		}
	}
	for name, id := range layer.state.names {
		b := layer.bindings[name]
		if b == nil || r.bindings[name] != b {
			b = &sourceBinding{reg: r, upstream: name}
			layer.bindings[name] = b
			r.bindings[name] = b
		}
		b.label = layer.label
		clean := cleanEndpoints(endpoints[name])
		if slices.EqualFunc(clean, b.endpoints, sameSourcedEndpoint) && b.endpoints != nil {
			continue
		}
		b.endpoints = clean
		if !all {
			r.version.Add(1)
			r.publishLocked(id)
		}
	}
}

func sameSourcedEndpoint(a, b sourcedEndpoint) bool {
	return a.target == b.target && a.weight == b.weight && slices.Equal(a.tags, b.tags)
}

// removeFrom deletes the layer's entities from st.
func (l *managedLayer) removeFrom(st *registryState) {
	for id := range l.state.routes.byID {
		st.remove(RecordRef{Kind: RouteSchema.Name, ID: id})
	}
	for id := range l.state.services.byID {
		st.remove(RecordRef{Kind: ServiceSchema.Name, ID: id})
	}
	for id := range l.state.upstreams {
		st.remove(RecordRef{Kind: UpstreamSchema.Name, ID: id})
	}
}

// overlayManagedLocked adds the managed layer to st, a content about to
// be installed (the store's, after a Reload, has none of it). r.mu must be
// held.
func (r *Registry) overlayManagedLocked(st *registryState) {
	if r.managed != nil {
		st.addAll(r.managed.state)
	}
}

// managedLabelLocked returns the label of the controller holding the
// entity of the kind (a schema name) with the given id, or "" when the
// entity is not managed. r.mu must be held.
func (r *Registry) managedLabelLocked(kind, id string) string {
	l := r.managed
	if l == nil {
		return ""
	}
	var found bool
	switch kind {
	case ServiceSchema.Name:
		found = l.state.services.byID[id] != nil
	case RouteSchema.Name:
		found = l.state.routes.byID[id] != nil
	case UpstreamSchema.Name:
		found = l.state.upstreams[id] != nil
	}
	if !found {
		return ""
	}
	return l.label
}

// refuseManagedLocked is the error of a write (verb: "update", "delete")
// to a managed entity, or nil when the entity is not managed: Kong's
// answer to writes it does not take (405, code 12). r.mu must be held.
func (r *Registry) refuseManagedLocked(kind, id, name, verb string) error {
	label := r.managedLabelLocked(kind, id)
	if label == "" {
		return nil
	}
	if name == "" {
		name = id
	}
	return schema.OperationUnsupported("cannot " + verb + " '" + kind + "' entity '" + name + "': it is managed by the " + label)
}

// refuseManagedConfigLocked refuses a declarative config that names an
// entity of the managed layer (by id or name): the store cannot hold it.
// r.mu must be held.
func (r *Registry) refuseManagedConfigLocked(cfg *DeclarativeConfig) error {
	l := r.managed
	if l == nil {
		return nil
	}
	check := func(kind, id, name string, byName func(string) string) error {
		if err := r.refuseManagedLocked(kind, id, name, "declare"); err != nil {
			return err
		}
		if name == "" {
			return nil
		}
		if mid := byName(name); mid != "" {
			return r.refuseManagedLocked(kind, mid, name, "declare")
		}
		return nil
	}
	for _, s := range cfg.Services {
		if err := check(ServiceSchema.Name, s.ID, s.NameOrEmpty(), func(n string) string { return l.state.services.byName[n] }); err != nil {
			return err
		}
	}
	for _, rt := range cfg.Routes {
		if err := check(RouteSchema.Name, rt.ID, rt.NameOrEmpty(), func(n string) string { return l.state.routes.byName[n] }); err != nil {
			return err
		}
		if id := rt.ServiceID(); id != "" && r.managedLabelLocked(ServiceSchema.Name, id) != "" {
			return r.refuseManagedLocked(ServiceSchema.Name, id, "", "attach routes to")
		}
	}
	for _, u := range cfg.Upstreams {
		if err := check(UpstreamSchema.Name, u.ID, u.Name, func(n string) string { return l.state.names[n] }); err != nil {
			return err
		}
	}
	return nil
}
