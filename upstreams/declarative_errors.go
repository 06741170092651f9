package upstreams

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// declErrors collects the errors of a declarative document in Kong's
// shape: a table mirroring the document (entity lists become arrays
// holding each invalid entity's field errors at its index, nested lists
// inside their parent's), plus Kong's flattened form.
type declErrors struct {
	topLevel map[string]any               // errors of top-level keys
	unique   map[string]map[string]string // kind -> duplicate value -> message
	entities []*declEntity                // every entity visited, in document order
}

// declEntity is one entity of the document and its errors.
type declEntity struct {
	parent *declEntity
	kind   string // plural, as the list key
	index  int    // 0-based position in its list
	path   string // "services.1.routes.2", 1-based as Kong prints

	orig     map[string]any // as written
	parentFK *ForeignKey    // the parent a nested entity belongs to

	fields map[string]any // own violations; nil while valid
}

func newDeclErrors() *declErrors {
	return &declErrors{topLevel: map[string]any{}, unique: map[string]map[string]string{}}
}

// at registers the entity at index i of list kind, under parent (nil for
// top-level lists).
func (d *declErrors) at(parent *declEntity, kind string, i int) *declEntity {
	e := &declEntity{parent: parent, kind: kind, index: i, path: kind + "." + strconv.Itoa(i+1)}
	if parent != nil {
		e.path = parent.path + "." + e.path
	}
	d.entities = append(d.entities, e)
	return e
}

func (d *declErrors) top(key, msg string) { d.topLevel[key] = msg }

func (d *declErrors) uniqueViolation(kind, value, msg string) {
	if d.unique[kind] == nil {
		d.unique[kind] = map[string]string{}
	}
	d.unique[kind][value] = msg
}

func (d *declErrors) empty() bool {
	if len(d.topLevel) > 0 || len(d.unique) > 0 {
		return false
	}
	for _, e := range d.entities {
		if !e.ok() {
			return false
		}
	}
	return true
}

func (e *declEntity) input(orig map[string]any, parentFK *ForeignKey) {
	e.orig, e.parentFK = orig, parentFK
}

func (e *declEntity) ok() bool { return len(e.fields) == 0 }

func (e *declEntity) ensure() map[string]any {
	if e.fields == nil {
		e.fields = map[string]any{}
	}
	return e.fields
}

func (e *declEntity) field(name, msg string) { e.ensure()[name] = msg }

func (e *declEntity) entity(msg string) {
	f := e.ensure()
	list, _ := f["@entity"].([]any)
	f["@entity"] = append(list, msg)
}

func (e *declEntity) violations(v *schema.Violations) {
	f := e.ensure()
	for k, msg := range v.Fields {
		if k == "@entity" {
			list, _ := f["@entity"].([]any)
			f["@entity"] = append(list, msg.([]any)...)
			continue
		}
		f[k] = msg
	}
}

// table returns Kong's nested error table.
func (d *declErrors) table(withEntities bool) map[string]any {
	out := map[string]any{}
	for k, v := range d.topLevel {
		out[k] = v
	}
	for kind, dups := range d.unique {
		m := map[string]any{}
		for value, msg := range dups {
			m[value] = msg
		}
		out[kind] = m
	}
	if !withEntities {
		return out
	}
	tables := map[*declEntity]map[string]any{}
	var tableOf func(e *declEntity) map[string]any
	tableOf = func(e *declEntity) map[string]any {
		if t, ok := tables[e]; ok {
			return t
		}
		t := map[string]any{}
		for k, v := range e.fields {
			t[k] = v
		}
		tables[e] = t
		container := out
		if e.parent != nil {
			container = tableOf(e.parent)
		}
		list, _ := container[e.kind].([]any)
		for len(list) <= e.index {
			list = append(list, nil)
		}
		list[e.index] = t
		container[e.kind] = list
		return t
	}
	for _, e := range d.entities {
		if !e.ok() {
			tableOf(e)
		}
	}
	return out
}

// flattened returns Kong's flattened_errors: one entry per invalid entity,
// nested ones included, each with its own errors only.
func (d *declErrors) flattened() []any {
	out := []any{}
	for _, e := range d.entities {
		if e.ok() {
			continue
		}
		entity := map[string]any{}
		for k, v := range e.orig {
			entity[k] = v
		}
		delete(entity, "routes")
		delete(entity, "targets")
		if e.parentFK != nil {
			fk := "service"
			if e.kind == "targets" {
				fk = "upstream"
			}
			if _, set := entity[fk]; !set {
				entity[fk] = map[string]any{"id": e.parentFK.ID}
			}
		}
		item := map[string]any{
			"entity_type": strings.TrimSuffix(e.kind, "s"),
			"entity":      entity,
			"errors":      categorize(e.fields, ""),
		}
		if n, ok := e.orig["name"].(string); ok && n != "" {
			item["entity_name"] = n
		}
		if id, ok := e.orig["id"].(string); ok && schema.IsUUID(id) {
			item["entity_id"] = id
		}
		if tags, ok := e.orig["tags"].([]any); ok && allStrings(tags) {
			item["entity_tags"] = tags
		}
		out = append(out, item)
	}
	return out
}

func allStrings(list []any) bool {
	for _, v := range list {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

// categorize turns a field-error table into Kong's flat list of
// {"type": "entity"|"field", "field": "a.b", "message": ...}, keys sorted.
func categorize(errs map[string]any, ns string) []any {
	out := []any{}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	join := func(k string) string {
		if ns == "" {
			return k
		}
		return ns + "." + k
	}
	for _, k := range keys {
		switch v := errs[k].(type) {
		case string:
			out = append(out, map[string]any{"type": "field", "field": join(k), "message": v})
		case map[string]any:
			out = append(out, categorize(v, join(k))...)
		case []any:
			if k == "@entity" {
				for _, m := range v {
					out = append(out, map[string]any{"type": "entity", "message": m})
				}
				continue
			}
			indexed := map[string]any{}
			for i, m := range v {
				if m != nil {
					indexed[strconv.Itoa(i+1)] = m
				}
			}
			out = append(out, categorize(indexed, join(k))...)
		}
	}
	return out
}

// err builds Kong's code-14 answer. With flatten, entity errors move to
// flattened_errors and leave the nested table, as Kong's
// declarative_config_flattened does.
func (d *declErrors) err(flatten bool) *schema.Error {
	e := declarativeError(d.table(!flatten), nil)
	if flatten {
		e.FlattenedErrors = d.flattened()
	}
	return e
}

// declarativeError is Kong's code 14 for the given error table.
func declarativeError(fields map[string]any, flattened []any) *schema.Error {
	return &schema.Error{Status: http.StatusBadRequest, Code: schema.CodeDeclarativeConfig, Name: "invalid declarative configuration",
		Message: "declarative config is invalid: " + schema.LuaTable(fields), Fields: fields, FlattenedErrors: flattened}
}
