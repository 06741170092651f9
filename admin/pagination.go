package admin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Page sizes, as Kong's.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// page holds a list request's paging and filtering options.
type page struct {
	size      int
	sizeGiven bool
	offset    string
	tags      tagFilter
	rawTags   string
	// nested lists (/services/{s}/routes) leave size out of next links,
	// as Kong's do
	nested bool
}

// pageItem is a list element and the key it is ordered and paged by.
type pageItem struct {
	key   string
	value any
}

// parsePage reads size, offset and (for top-level lists) tags.
func parsePage(r *http.Request, withTags bool) (*page, error) {
	q := r.URL.Query()
	p := &page{size: defaultPageSize, offset: q.Get("offset")}
	if s, ok := q["size"]; ok {
		n, err := strconv.ParseFloat(s[0], 64)
		if err != nil {
			return nil, schema.InvalidSize("size must be a number")
		}
		if n != float64(int(n)) || n < 1 || n > maxPageSize {
			return nil, schema.InvalidSize("size must be an integer between 1 and 1000")
		}
		p.size, p.sizeGiven = int(n), true
	}
	if t, ok := q["tags"]; ok && withTags {
		f, err := parseTags(t[0])
		if err != nil {
			return nil, err
		}
		p.tags, p.rawTags = f, t[0]
	}
	return p, nil
}

// afterKey decodes the opaque offset: the base64 of the JSON array
// holding the last key served ("" when there is no offset).
func (p *page) afterKey() (string, error) {
	if p.offset == "" {
		return "", nil
	}
	var last []string
	if err := p.decodeOffset(&last); err != nil {
		return "", err
	}
	if len(last) != 1 {
		return "", schema.InvalidOffset(p.offset, "bad json encoding")
	}
	return last[0], nil
}

// decodeOffset decodes a non-empty opaque offset (base64 of JSON) into v,
// with Kong's code 7 errors.
func (p *page) decodeOffset(v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p.offset, "="))
	if err != nil {
		raw, err = base64.StdEncoding.DecodeString(p.offset)
	}
	if err != nil {
		return schema.InvalidOffset(p.offset, "bad base64 encoding")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return schema.InvalidOffset(p.offset, "bad json encoding")
	}
	return nil
}

// encodeOffset is the opaque offset for the JSON of v.
func encodeOffset(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// writeByKey writes one page of items sorted by key, with Kong's opaque
// offset.
func (p *page) writeByKey(c *call, path string, items []pageItem) error {
	after, err := p.afterKey()
	if err != nil {
		return err
	}
	start := sort.Search(len(items), func(i int) bool { return items[i].key > after })
	end := min(start+p.size, len(items))
	data := make([]any, 0, end-start)
	for _, it := range items[start:end] {
		data = append(data, it.value)
	}
	last := ""
	if end > start {
		last = items[end-1].key
	}
	return p.writeKeyPage(c, path, data, last, end < len(items))
}

// writeKeyPage writes a page already cut: data, the key of its last item
// and whether more follow, with the next link re-appending tags and size.
func (p *page) writeKeyPage(c *call, path string, data []any, lastKey string, more bool) error {
	body := map[string]any{"data": data, "next": nil}
	if more {
		off := encodeOffset([]string{lastKey})
		body["offset"] = off
		next := c.api.Prefix + path + "?offset=" + url.QueryEscape(off)
		if p.rawTags != "" {
			next += "&tags=" + escapeURI(p.rawTags)
		}
		if p.sizeGiven && !p.nested {
			next += "&size=" + strconv.Itoa(p.size)
		}
		body["next"] = next
	}
	writeJSON(c.w, c.r, http.StatusOK, body)
	return nil
}

// writeByIndex writes one page with Kong's decimal offsets (the custom
// target lists).
func (p *page) writeByIndex(c *call, path string, items []any) error {
	return p.writeByIndexWith(c, path, items, nil)
}

// writeByIndexWith is writeByIndex with extra top-level fields.
func (p *page) writeByIndexWith(c *call, path string, items []any, extra map[string]any) error {
	start := 0
	if p.offset != "" {
		n, err := strconv.Atoi(p.offset)
		if err != nil || n < 0 {
			return schema.InvalidOffset(p.offset, "bad offset")
		}
		start = min(n, len(items))
	}
	end := min(start+p.size, len(items))
	body := map[string]any{"data": append([]any{}, items[start:end]...), "next": nil}
	for k, v := range extra {
		body[k] = v
	}
	if end < len(items) {
		body["offset"] = strconv.Itoa(end)
		body["next"] = c.api.Prefix + path + "?offset=" + strconv.Itoa(end)
	}
	writeJSON(c.w, c.r, http.StatusOK, body)
	return nil
}

// escapeURI escapes a query value as Kong's ngx.escape_uri does: a space
// is %20, never "+".
func escapeURI(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func sortItems(items []pageItem) {
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
}

// tagFilter is a parsed ?tags= filter: all of the tags ("a,b") or any of
// them ("a/b").
type tagFilter struct {
	tags []string
	any  bool
}

func parseTags(s string) (tagFilter, error) {
	if s == "" {
		return tagFilter{}, schema.InvalidOption("tags", "cannot be null")
	}
	hasAnd, hasOr := strings.Contains(s, ","), strings.Contains(s, "/")
	if hasAnd && hasOr {
		return tagFilter{}, schema.InvalidOption("tags", "invalid filter syntax")
	}
	sep := ","
	if hasOr {
		sep = "/"
	}
	tags := strings.Split(s, sep)
	if len(tags) > 5 {
		return tagFilter{}, schema.InvalidOption("tags", "cannot query more than 5 tags")
	}
	for _, t := range tags {
		if t == "" || schema.CheckTag(t) != "" {
			return tagFilter{}, schema.InvalidOption("tags", "invalid filter syntax")
		}
	}
	return tagFilter{tags: tags, any: hasOr}, nil
}

// match reports whether an entity's tags pass the filter.
func (f tagFilter) match(tags []string) bool {
	if len(f.tags) == 0 {
		return true
	}
	has := func(t string) bool {
		for _, x := range tags {
			if x == t {
				return true
			}
		}
		return false
	}
	for _, t := range f.tags {
		if has(t) == f.any {
			return f.any
		}
	}
	return !f.any
}
