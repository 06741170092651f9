package admin

import (
	"net/http"
	"net/url"
	"sort"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// listTags serves GET /tags: a row {entity_name, entity_id, tag} per tag
// of every stored service, route, upstream and target, ordered by entity
// id then by the tag's place, in Kong's pages (size, opaque offset of
// the last row's entity id and place). ?tags= is ignored, as Kong does,
// but carried into the next link as Kong's does.
func listTags(c *call) error {
	page, err := parsePage(c.r, false)
	if err != nil {
		return err
	}
	type position struct {
		id  string
		ord int
	}
	var after *position
	if page.offset != "" {
		var last []any
		if err := page.decodeOffset(&last); err != nil {
			return err
		}
		if len(last) != 2 {
			return schema.InvalidOffset(page.offset, "bad json encoding")
		}
		id, _ := last[0].(string)
		ord, isNumber := last[1].(float64)
		if id == "" || !isNumber {
			return schema.InvalidOffset(page.offset, "bad json encoding")
		}
		after = &position{id, int(ord)}
	}
	rows := c.reg.TagRows()
	start := 0
	if after != nil {
		start = sort.Search(len(rows), func(i int) bool {
			return rows[i].EntityID > after.id || rows[i].EntityID == after.id && rows[i].Ordinality > after.ord
		})
	}
	end := min(start+page.size, len(rows))
	body := map[string]any{"data": tagData(rows[start:end]), "next": nil}
	if end < len(rows) {
		last := rows[end-1]
		off := encodeOffset([]any{last.EntityID, last.Ordinality})
		next := c.api.Prefix + "/tags?offset=" + escapeURI(off)
		if t, ok := c.r.URL.Query()["tags"]; ok {
			next += "&tags=" + escapeURI(t[0])
		}
		if page.sizeGiven {
			next += "&size=" + c.r.URL.Query().Get("size")
		}
		body["offset"], body["next"] = off, next
	}
	writeJSON(c.w, c.r, http.StatusOK, body)
	return nil
}

// listTagged serves GET /tags/{tag}: the rows of the entities that have
// the tag, ordered by entity id, in Kong's pages (the offset holds the
// last entity id). A tag Kong would refuse is its code 10, "invalid
// unique tag", with the tag validator's message.
func listTagged(c *call) error {
	page, err := parsePage(c.r, false)
	if err != nil {
		return err
	}
	tag := c.params[0]
	if msg := schema.CheckTag(tag); msg != "" {
		return schema.InvalidUnique("tag", msg)
	}
	after, err := page.afterKey()
	if err != nil {
		return err
	}
	var rows []upstreams.TagRow
	more := false
	for _, row := range c.reg.TagRows() {
		if row.Tag != tag || row.EntityID <= after {
			continue
		}
		if len(rows) == page.size {
			more = true
			break
		}
		rows = append(rows, row)
	}
	body := map[string]any{"data": tagData(rows), "next": nil}
	if more {
		off := encodeOffset([]string{rows[len(rows)-1].EntityID})
		body["offset"] = off
		body["next"] = c.api.Prefix + "/tags/" + url.PathEscape(tag) + "?offset=" + escapeURI(off)
	}
	writeJSON(c.w, c.r, http.StatusOK, body)
	return nil
}

// tagData is a page of tag rows as a JSON list (never null).
func tagData(rows []upstreams.TagRow) []upstreams.TagRow {
	if rows == nil {
		return []upstreams.TagRow{}
	}
	return rows
}
