package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// routeID and routeTags read a route for listByID.
func routeID(r *upstreams.Route) string     { return r.ID }
func routeTags(r *upstreams.Route) []string { return r.Tags }

// listRoutes serves GET /routes: id order, opaque offsets, tags.
func listRoutes(c *call) error {
	return listByID(c, "/routes", false, c.reg.RoutesAfter, routeID, routeTags, nil)
}

func createRoute(c *call) error {
	return write(c, upstreams.RouteSchema, http.StatusCreated, func(in map[string]any) (any, error) {
		return c.reg.CreateRoute(c.r.Context(), in)
	})
}

// lookupRoute finds the route addressed by key; with a parent service, the
// route must belong to it (else Kong's plain 404).
func lookupRoute(c *call, key string, parent *upstreams.Service) (*upstreams.Route, error) {
	if err := upstreams.CheckNameKey(key); err != nil {
		return nil, err
	}
	rt, ok := c.reg.Route(key)
	if !ok || parent != nil && rt.ServiceID() != parent.ID {
		return nil, schema.NotFoundPlain()
	}
	return &rt, nil
}

func getRoute(c *call) error {
	rt, err := lookupRoute(c, c.params[0], nil)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, rt)
	return nil
}

func putRoute(c *call) error {
	return write(c, upstreams.RouteSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpsertRoute(c.r.Context(), c.params[0], in)
	})
}

func patchRoute(c *call) error {
	return write(c, upstreams.RouteSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpdateRoute(c.r.Context(), c.params[0], in)
	})
}

func deleteRoute(c *call) error {
	return deleted(c, c.reg.DeleteRoute(c.r.Context(), c.params[0]))
}

// ---- /services/{service}/routes ----

// listServiceRoutes serves GET /services/{s}/routes: the service's routes
// in id order; as a nested list it ignores tags.
func listServiceRoutes(c *call) error {
	s, err := lookupService(c, c.params[0])
	if err != nil {
		return err
	}
	return listByID(c, "/services/"+c.params[0]+"/routes", true, c.reg.RoutesAfter, routeID, routeTags,
		func(rt *upstreams.Route) bool { return rt.ServiceID() == s.ID })
}

// createServiceRoute serves POST /services/{s}/routes: the URL sets the
// route's service.
func createServiceRoute(c *call) error {
	s, err := lookupService(c, c.params[0])
	if err != nil {
		return err
	}
	return write(c, upstreams.RouteSchema, http.StatusCreated, func(in map[string]any) (any, error) {
		in["service"] = map[string]any{"id": s.ID}
		return c.reg.CreateRoute(c.r.Context(), in)
	})
}

// serviceRoute resolves /services/{s}/routes/{r}: the service, and the
// route when it exists and belongs to the service.
func serviceRoute(c *call) (*upstreams.Service, *upstreams.Route, error) {
	s, err := lookupService(c, c.params[0])
	if err != nil {
		return nil, nil, err
	}
	rt, err := lookupRoute(c, c.params[1], s)
	return s, rt, err
}

func getServiceRoute(c *call) error {
	_, rt, err := serviceRoute(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, rt)
	return nil
}

// putServiceRoute upserts a route under the service; a route of the same
// key that belongs to another service is not found here.
func putServiceRoute(c *call) error {
	s, err := lookupService(c, c.params[0])
	if err != nil {
		return err
	}
	if rt, exists := c.reg.Route(c.params[1]); exists && rt.ServiceID() != s.ID {
		return schema.NotFoundPlain()
	}
	return write(c, upstreams.RouteSchema, http.StatusOK, func(in map[string]any) (any, error) {
		in["service"] = map[string]any{"id": s.ID}
		return c.reg.UpsertRoute(c.r.Context(), c.params[1], in)
	})
}

func patchServiceRoute(c *call) error {
	s, rt, err := serviceRoute(c)
	if err != nil {
		return err
	}
	return write(c, upstreams.RouteSchema, http.StatusOK, func(in map[string]any) (any, error) {
		if _, given := in["service"]; !given {
			in["service"] = map[string]any{"id": s.ID}
		}
		return c.reg.UpdateRoute(c.r.Context(), rt.ID, in)
	})
}

func deleteServiceRoute(c *call) error {
	_, rt, err := serviceRoute(c)
	if err != nil {
		if isNotFound(err) {
			noContent(c.w) // Kong's DELETE of a missing entity
			return nil
		}
		return err
	}
	return deleted(c, c.reg.DeleteRoute(c.r.Context(), rt.ID))
}

// ---- /routes/{route}/service ----

// routeService resolves /routes/{r}/service: the route's service, or a 404
// when the route is missing or has none.
func routeService(c *call) (*upstreams.Service, error) {
	rt, err := lookupRoute(c, c.params[0], nil)
	if err != nil {
		return nil, err
	}
	if rt.ServiceID() == "" {
		return nil, schema.NotFoundPlain()
	}
	s, ok := c.reg.Service(rt.ServiceID())
	if !ok {
		return nil, schema.NotFoundPlain()
	}
	return &s, nil
}

func getRouteService(c *call) error {
	s, err := routeService(c)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, s)
	return nil
}

func putRouteService(c *call) error {
	s, err := routeService(c)
	if err != nil {
		return err
	}
	return upsertService(c, s.ID)
}

func patchRouteService(c *call) error {
	s, err := routeService(c)
	if err != nil {
		return err
	}
	return updateService(c, s.ID)
}

// deleteRouteService answers as Kong: a route's service is not deleted
// through the route (405 "Method not allowed"); a missing route, or one
// without a service, is not found.
func deleteRouteService(c *call) error {
	if _, err := routeService(c); err != nil {
		return err
	}
	return schema.Plain(http.StatusMethodNotAllowed, "Method not allowed")
}

func isNotFound(err error) bool {
	e, ok := err.(*schema.Error)
	return ok && e.Status == http.StatusNotFound
}
