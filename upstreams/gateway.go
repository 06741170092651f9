package upstreams

import (
	"sort"
)

// Gateway is an immutable snapshot of the registry's services and routes,
// published whole on every change to them: the proxy reads it without
// locks (Registry.Gateway) and never sees a half-applied change, so a
// route always finds the service it references in the same snapshot.
// Nothing reachable from a Gateway is ever modified; treat it as
// read-only.
type Gateway struct {
	// Version is the registry version (Registry.Version) at which the
	// snapshot was taken; a newer snapshot has a greater Version.
	Version uint64
	// Services holds every service by id.
	Services map[string]*Service
	// Routes holds every route, oldest first (created_at, then id): Kong's
	// last tie-breaker between equally specific routes.
	Routes []*Route

	superseded chan struct{}
}

// Superseded returns a channel closed once a newer snapshot is published,
// so a router can rebuild its match tables on change instead of
// comparing versions on every request.
func (g *Gateway) Superseded() <-chan struct{} { return g.superseded }

// Service returns the service a route points at, or nil (a route without
// service, or one whose service is not in this snapshot).
func (g *Gateway) Service(rt *Route) *Service {
	if rt.Service == nil {
		return nil
	}
	return g.Services[rt.Service.ID]
}

// Gateway returns the current snapshot of services and routes. It takes no
// lock and never returns nil.
func (r *Registry) Gateway() *Gateway { return r.gateway.Load() }

// emptyGateway is the snapshot of a registry without services or routes.
func emptyGateway() *Gateway {
	return &Gateway{Services: map[string]*Service{}, superseded: make(chan struct{})}
}

// publishGatewayLocked builds and publishes a new snapshot from the
// registry's services and routes, then wakes the holders of the previous
// one. r.mu must be held.
func (r *Registry) publishGatewayLocked() {
	g := &Gateway{
		Version:    r.version.Load(),
		Services:   make(map[string]*Service, len(r.services.byID)),
		Routes:     make([]*Route, 0, len(r.routes.byID)),
		superseded: make(chan struct{}),
	}
	for id, s := range r.services.byID {
		g.Services[id] = s
	}
	for _, rt := range r.routes.byID {
		g.Routes = append(g.Routes, rt)
	}
	sort.Slice(g.Routes, func(i, j int) bool {
		a, b := g.Routes[i], g.Routes[j]
		if a.CreatedAt != b.CreatedAt {
			return a.CreatedAt < b.CreatedAt
		}
		return a.ID < b.ID
	})
	old := r.gateway.Swap(g)
	if old != nil {
		close(old.superseded)
	}
}
