package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

func listUpstreams(c *call) error {
	page, err := parsePage(c.r, true)
	if err != nil {
		return err
	}
	all := c.reg.Upstreams()
	items := make([]pageItem, 0, len(all))
	for i := range all {
		if page.tags.match(all[i].Tags) {
			items = append(items, pageItem{key: all[i].ID, value: &all[i]})
		}
	}
	return page.writeByKey(c, "/upstreams", items)
}

func createUpstream(c *call) error {
	in, err := decodeBody(c.r, upstreams.UpstreamSchema)
	if err != nil {
		return err
	}
	u, err := c.reg.CreateUpstream(c.r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusCreated, u)
	return nil
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
	in, err := decodeBody(c.r, upstreams.UpstreamSchema)
	if err != nil {
		return err
	}
	u, err := c.reg.UpsertUpstream(c.r.Context(), c.params[0], in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, u)
	return nil
}

func patchUpstream(c *call) error {
	in, err := decodeBody(c.r, upstreams.UpstreamSchema)
	if err != nil {
		return err
	}
	u, err := c.reg.UpdateUpstream(c.r.Context(), c.params[0], in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, u)
	return nil
}

func deleteUpstream(c *call) error {
	if err := c.reg.DeleteUpstream(c.r.Context(), c.params[0]); err != nil {
		return err
	}
	noContent(c.w)
	return nil
}
