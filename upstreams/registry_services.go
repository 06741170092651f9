package upstreams

import (
	"context"
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Services and routes live in the same store as upstreams (kinds
// "services" and "routes"; a route's record has its service as Parent).
// Every write publishes a new Gateway snapshot. Kong's rules hold: names
// are unique per kind, a route's service must exist, and a service that
// routes still reference cannot be deleted (code 4, HTTP 400).

var serviceKind = &namedKind[*Service]{
	schema: ServiceSchema,
	index:  func(r *Registry) *namedIndex[*Service] { return &r.services },
	decode: decodeInto[Service],
	parent: func(*Service) string { return "" },
	check: func(_ *Registry, s *Service) error {
		// this gateway stores no certificates: a reference to one cannot
		// be satisfied, as in a Kong without that certificate
		if s.ClientCertificate != nil {
			return foreignKeyViolation("client_certificate", "certificates", s.ClientCertificate.ID)
		}
		return nil
	},
}

var routeKind = &namedKind[*Route]{
	schema: RouteSchema,
	index:  func(r *Registry) *namedIndex[*Route] { return &r.routes },
	decode: decodeInto[Route],
	parent: (*Route).ServiceID,
	check: func(r *Registry, rt *Route) error {
		id := rt.ServiceID()
		if id != "" && r.services.byID[id] == nil {
			return foreignKeyViolation("service", ServiceSchema.Name, id)
		}
		if id != "" {
			return r.refuseManagedLocked(ServiceSchema.Name, id, r.services.byID[id].NameOrEmpty(), "attach routes to")
		}
		return nil
	},
}

// CheckNameKey rejects URL keys of services and routes that are neither a
// UUID nor a valid name (Kong's "invalid unique name", code 10).
func CheckNameKey(key string) error { return serviceKind.checkKey(key) }

// CreateService inserts a service from a decoded request body (POST).
func (r *Registry) CreateService(ctx context.Context, in map[string]any) (*Service, error) {
	return writeEntity(ctx, r, func() (*Service, change, error) { return serviceKind.create(r, in) })
}

// UpsertService creates or fully replaces the service addressed by key, an
// id or a name (PUT).
func (r *Registry) UpsertService(ctx context.Context, key string, in map[string]any) (*Service, error) {
	return writeEntity(ctx, r, func() (*Service, change, error) { return serviceKind.upsert(r, key, in) })
}

// UpdateService applies a partial update to the service addressed by key
// (PATCH). A missing service is Kong's code 6, HTTP 404.
func (r *Registry) UpdateService(ctx context.Context, key string, patch map[string]any) (*Service, error) {
	return writeEntity(ctx, r, func() (*Service, change, error) { return serviceKind.update(r, key, patch) })
}

// DeleteService deletes the service addressed by key. A missing service is
// not an error; one that routes reference is refused.
func (r *Registry) DeleteService(ctx context.Context, key string) error {
	return r.write(ctx, func() (change, error) {
		return serviceKind.remove(r, key, func(s *Service) error {
			for _, rt := range r.routes.byID {
				if rt.ServiceID() == s.ID {
					return referencedBy(ServiceSchema.Name, RouteSchema.Name)
				}
			}
			return nil
		})
	})
}

// Service returns the service addressed by key (an id or a name).
func (r *Registry) Service(key string) (Service, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s := r.services.lookup(key); s != nil {
		return *s, true
	}
	return Service{}, false
}

// ServicesAfter returns one page of services in id order, as
// UpstreamsAfter does for upstreams.
func (r *Registry) ServicesAfter(afterID string, limit int, match func(*Service) bool) ([]Service, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return pageAfter(r.services.byID, afterID, limit, match)
}

// CreateRoute inserts a route from a decoded request body (POST). Its
// service may be given as {"id": ...} or {"name": ...}.
func (r *Registry) CreateRoute(ctx context.Context, in map[string]any) (*Route, error) {
	return writeRoute(ctx, r, in, func() (*Route, change, error) { return routeKind.create(r, in) })
}

// UpsertRoute creates or fully replaces the route addressed by key (PUT).
func (r *Registry) UpsertRoute(ctx context.Context, key string, in map[string]any) (*Route, error) {
	return writeRoute(ctx, r, in, func() (*Route, change, error) { return routeKind.upsert(r, key, in) })
}

// UpdateRoute applies a partial update to the route addressed by key
// (PATCH).
func (r *Registry) UpdateRoute(ctx context.Context, key string, patch map[string]any) (*Route, error) {
	return writeRoute(ctx, r, patch, func() (*Route, change, error) { return routeKind.update(r, key, patch) })
}

// DeleteRoute deletes the route addressed by key; a missing route is not an
// error.
func (r *Registry) DeleteRoute(ctx context.Context, key string) error {
	return r.write(ctx, func() (change, error) { return routeKind.remove(r, key, nil) })
}

// Route returns the route addressed by key (an id or a name).
func (r *Registry) Route(key string) (Route, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rt := r.routes.lookup(key); rt != nil {
		return *rt, true
	}
	return Route{}, false
}

// RoutesAfter returns one page of routes in id order, as UpstreamsAfter
// does for upstreams.
func (r *Registry) RoutesAfter(afterID string, limit int, match func(*Route) bool) ([]Route, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return pageAfter(r.routes.byID, afterID, limit, match)
}

// writeRoute runs a route write whose body in may name its service, which
// is resolved first.
func writeRoute(ctx context.Context, r *Registry, in map[string]any, plan func() (*Route, change, error)) (*Route, error) {
	return writeEntity(ctx, r, func() (*Route, change, error) {
		if err := r.resolveServiceLocked(in); err != nil {
			return nil, change{}, err
		}
		return plan()
	})
}

// resolveServiceLocked turns a route's {"service": {"name": ...}} into the
// service's id, as Kong resolves foreign keys given by endpoint key; an
// unknown name is code 13. r.mu must be held for reading.
func (r *Registry) resolveServiceLocked(in map[string]any) error {
	ref, ok := in["service"].(map[string]any)
	if !ok || ref["id"] != nil {
		return nil
	}
	name, ok := ref["name"].(string)
	if !ok || len(ref) != 1 {
		return nil
	}
	s := r.services.lookup(name)
	if s == nil || schema.IsUUID(name) {
		msg := "the foreign key cannot be resolved with '" + schema.LuaTable(map[string]any{"name": name}) + "' for an existing 'services' entity"
		return &schema.Error{Status: http.StatusBadRequest, Code: schema.CodeForeignKeysUnresolved, Name: "foreign keys unresolved",
			Message: "foreign key unresolved (service.name: " + msg + ")",
			Fields:  map[string]any{"service": map[string]any{"name": msg}}}
	}
	in["service"] = map[string]any{"id": s.ID}
	return nil
}
