package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// listUpstreams serves GET /upstreams: ordered by id, opaque offsets,
// tags filtered. A page costs O(upstreams) comparisons but copies only
// the page (Registry.UpstreamsAfter).
func listUpstreams(c *call) error {
	return listByID(c, "/upstreams", false, c.reg.UpstreamsAfter,
		func(u *upstreams.Upstream) string { return u.ID },
		func(u *upstreams.Upstream) []string { return u.Tags }, nil)
}

func createUpstream(c *call) error {
	return write(c, upstreams.UpstreamSchema, http.StatusCreated, func(in map[string]any) (any, error) {
		return c.reg.CreateUpstream(c.r.Context(), in)
	})
}

func getUpstream(c *call) error {
	key := c.params[0]
	if err := upstreams.CheckUpstreamKey(key); err != nil {
		return err
	}
	u, ok := c.reg.Upstream(key)
	if !ok {
		return schema.NotFoundPlain()
	}
	writeJSON(c.w, c.r, http.StatusOK, &u)
	return nil
}

func putUpstream(c *call) error {
	return write(c, upstreams.UpstreamSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpsertUpstream(c.r.Context(), c.params[0], in)
	})
}

func patchUpstream(c *call) error {
	return write(c, upstreams.UpstreamSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpdateUpstream(c.r.Context(), c.params[0], in)
	})
}

func deleteUpstream(c *call) error {
	return deleted(c, c.reg.DeleteUpstream(c.r.Context(), c.params[0]))
}

// deleted answers a DELETE: 204, or the error.
func deleted(c *call, err error) error {
	if err != nil {
		return err
	}
	noContent(c.w)
	return nil
}

// write decodes the request body for s, runs a registry write with it and
// answers with the written entity.
func write(c *call, s *schema.Schema, status int, do func(in map[string]any) (any, error)) error {
	in, err := decodeBody(c.r, s)
	if err != nil {
		return err
	}
	entity, err := do(in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, status, entity)
	return nil
}
