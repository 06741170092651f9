package admin

// pager cuts one page of entities in id order (Registry.UpstreamsAfter,
// ServicesAfter, RoutesAfter).
type pager[T any] func(afterID string, limit int, match func(*T) bool) ([]T, bool)

// listByID serves a DAO collection: entities in id order with Kong's
// opaque offsets. tags returns an entity's tags for ?tags= (top-level
// lists only: nested lists ignore tags, as Kong's do); keep, when not
// nil, narrows the list further (a nested list's parent).
func listByID[T any](c *call, path string, nested bool, cut pager[T], id func(*T) string, tags func(*T) []string, keep func(*T) bool) error {
	page, err := parsePage(c.r, !nested)
	if err != nil {
		return err
	}
	page.nested = nested
	after, err := page.afterKey()
	if err != nil {
		return err
	}
	list, more := cut(after, page.size, func(e *T) bool {
		return (keep == nil || keep(e)) && page.tags.match(tags(e))
	})
	data := make([]any, len(list))
	last := ""
	for i := range list {
		data[i] = &list[i]
		last = id(&list[i])
	}
	return page.writeKeyPage(c, path, data, last, more)
}
