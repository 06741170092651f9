package upstreams

import "sort"

// TagRow is one tag of one entity, as Kong's /tags lists it.
type TagRow struct {
	EntityName string `json:"entity_name"`
	EntityID   string `json:"entity_id"`
	Tag        string `json:"tag"`
	// Ordinality is the tag's 1-based place in the entity's tags; with
	// EntityID it orders and pages the rows, as Kong's tags table does.
	Ordinality int `json:"-"`
}

// TagRows returns a row per tag of every service, route, upstream and
// target, ordered by entity id, then by the tag's place in the entity's
// tags (Kong's order for GET /tags).
func (r *Registry) TagRows() []TagRow {
	r.mu.RLock()
	var rows []TagRow
	add := func(kind, id string, tags []string) {
		for i, t := range tags {
			rows = append(rows, TagRow{EntityName: kind, EntityID: id, Tag: t, Ordinality: i + 1})
		}
	}
	for _, s := range r.services.byID {
		add(ServiceSchema.Name, s.ID, s.Tags)
	}
	for _, rt := range r.routes.byID {
		add(RouteSchema.Name, rt.ID, rt.Tags)
	}
	for _, u := range r.upstreams {
		add(UpstreamSchema.Name, u.ID, u.Tags)
	}
	for _, ts := range r.targets {
		for _, t := range ts {
			add(TargetSchema.Name, t.ID, t.Tags)
		}
	}
	r.mu.RUnlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].EntityID != rows[j].EntityID {
			return rows[i].EntityID < rows[j].EntityID
		}
		return rows[i].Ordinality < rows[j].Ordinality
	})
	return rows
}
