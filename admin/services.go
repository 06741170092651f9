package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// serviceID and serviceTags read a service for listByID.
func serviceID(s *upstreams.Service) string     { return s.ID }
func serviceTags(s *upstreams.Service) []string { return s.Tags }

// listServices serves GET /services: id order, opaque offsets, tags.
func listServices(c *call) error {
	return listByID(c, "/services", false, c.reg.ServicesAfter, serviceID, serviceTags, nil)
}

func createService(c *call) error {
	return write(c, upstreams.ServiceSchema, http.StatusCreated, func(in map[string]any) (any, error) {
		return c.reg.CreateService(c.r.Context(), in)
	})
}

// lookupService finds the service addressed by key: a 400 for a malformed
// key, Kong's plain 404 for a missing one.
func lookupService(c *call, key string) (*upstreams.Service, error) {
	if err := upstreams.CheckNameKey(key); err != nil {
		return nil, err
	}
	s, ok := c.reg.Service(key)
	if !ok {
		return nil, schema.NotFoundPlain()
	}
	return &s, nil
}

func getService(c *call) error {
	s, err := lookupService(c, c.params[0])
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, s)
	return nil
}

func putService(c *call) error {
	return upsertService(c, c.params[0])
}

func upsertService(c *call, key string) error {
	return write(c, upstreams.ServiceSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpsertService(c.r.Context(), key, in)
	})
}

func patchService(c *call) error {
	return updateService(c, c.params[0])
}

func updateService(c *call, key string) error {
	return write(c, upstreams.ServiceSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpdateService(c.r.Context(), key, in)
	})
}

func deleteService(c *call) error {
	return deleted(c, c.reg.DeleteService(c.r.Context(), c.params[0]))
}
