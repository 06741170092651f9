package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// listTargets is Kong's page_for_upstream: newest first, decimal offsets,
// tags ignored.
func listTargets(c *call) error {
	page, err := parsePage(c.r, false)
	if err != nil {
		return err
	}
	list, ok := c.reg.Targets(c.params[0])
	if !ok {
		return schema.NotFoundPlain()
	}
	items := make([]any, len(list))
	for i := range list {
		items[len(list)-1-i] = &list[i]
	}
	return page.writeByIndex(c, "/upstreams/"+c.params[0]+"/targets", items)
}

// listAllTargets is the generic DAO page: ordered by id, opaque offsets.
func listAllTargets(c *call) error {
	page, err := parsePage(c.r, false)
	if err != nil {
		return err
	}
	list, ok := c.reg.Targets(c.params[0])
	if !ok {
		return schema.NotFoundPlain()
	}
	items := make([]pageItem, len(list))
	for i := range list {
		items[i] = pageItem{key: list[i].ID, value: &list[i]}
	}
	sortItems(items)
	return page.writeByKey(c, "/upstreams/"+c.params[0]+"/targets/all", items)
}

func createTarget(c *call) error {
	in, err := decodeBody(c.r, upstreams.TargetSchema)
	if err != nil {
		return err
	}
	t, err := c.reg.CreateTarget(c.r.Context(), c.params[0], in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusCreated, t)
	return nil
}

func getTarget(c *call) error {
	t, ok := c.reg.Target(c.params[0], c.params[1])
	if !ok {
		return schema.NotFoundPlain()
	}
	writeJSON(c.w, c.r, http.StatusOK, &t)
	return nil
}

// updateTarget serves PATCH and PUT, which Kong treats alike for targets:
// a partial update of an existing target (PUT never creates one, so decK
// falls back to POST on its 404).
func updateTarget(c *call) error {
	in, err := decodeBody(c.r, upstreams.TargetSchema)
	if err != nil {
		return err
	}
	t, err := c.reg.UpdateTarget(c.r.Context(), c.params[0], c.params[1], in)
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, t)
	return nil
}

func deleteTarget(c *call) error {
	if err := c.reg.DeleteTarget(c.r.Context(), c.params[0], c.params[1]); err != nil {
		return err
	}
	noContent(c.w)
	return nil
}
