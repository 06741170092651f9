package admin

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// pagedTargets parses paging options and returns the addressed upstream's
// targets, oldest first.
func pagedTargets(c *call) (*page, []upstreams.Target, error) {
	page, err := parsePage(c.r, false)
	if err != nil {
		return nil, nil, err
	}
	list, ok := c.reg.Targets(c.params[0])
	if !ok {
		return nil, nil, schema.NotFoundPlain()
	}
	return page, list, nil
}

// listTargets is Kong's page_for_upstream: newest first, decimal offsets,
// tags ignored.
func listTargets(c *call) error {
	page, list, err := pagedTargets(c)
	if err != nil {
		return err
	}
	items := make([]any, len(list))
	for i := range list {
		items[len(list)-1-i] = &list[i]
	}
	return page.writeByIndex(c, "/upstreams/"+c.params[0]+"/targets", items)
}

// listAllTargets is the generic DAO page: ordered by id, opaque offsets.
func listAllTargets(c *call) error {
	page, list, err := pagedTargets(c)
	if err != nil {
		return err
	}
	// Kong's next link for this nested list has no size
	page.nested = true
	items := make([]pageItem, len(list))
	for i := range list {
		items[i] = pageItem{key: list[i].ID, value: &list[i]}
	}
	sortItems(items)
	return page.writeByKey(c, "/upstreams/"+c.params[0]+"/targets/all", items)
}

func createTarget(c *call) error {
	return write(c, upstreams.TargetSchema, http.StatusCreated, func(in map[string]any) (any, error) {
		return c.reg.CreateTarget(c.r.Context(), c.params[0], in)
	})
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
	return write(c, upstreams.TargetSchema, http.StatusOK, func(in map[string]any) (any, error) {
		return c.reg.UpdateTarget(c.r.Context(), c.params[0], c.params[1], in)
	})
}

func deleteTarget(c *call) error {
	return deleted(c, c.reg.DeleteTarget(c.r.Context(), c.params[0], c.params[1]))
}
