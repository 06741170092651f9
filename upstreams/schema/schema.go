// Package schema declares Kong-compatible entity schemas once and uses the
// declaration everywhere an entity crosses a boundary: Caddy JSON config,
// the Caddyfile, the Admin API (JSON, form and multipart bodies), the store
// and the /schemas endpoints that decK reads defaults from.
//
// An entity is handled as a generic map[string]any (the shape of decoded
// JSON) while it is validated, so that messages, defaults and nulls follow
// Kong exactly; typed Go structs are produced only from valid maps.
package schema

import (
	"sort"
)

// Type is the type of a field, named as Kong names it.
type Type string

// Field types, as Kong's schema library spells them.
const (
	String  Type = "string"
	Integer Type = "integer"
	Number  Type = "number"
	Boolean Type = "boolean"
	Array   Type = "array"
	Set     Type = "set"
	Record  Type = "record"
	Map     Type = "map"
	Foreign Type = "foreign"
)

// Field declares one field of an entity or of a nested record.
type Field struct {
	Name string
	Type Type
	// Default is the value filled in when the field is absent on insert or
	// upsert. Nil means the field defaults to null. Records default to the
	// defaults of their own fields.
	Default any
	// Required fields must be present and non-null after defaults are applied.
	Required bool
	// Auto fields (ids, timestamps) are filled by the server when absent.
	Auto bool
	// UUID fields must hold a valid lower-case UUID.
	UUID bool
	// Unique fields are unique among entities of the schema.
	Unique bool
	// OneOf restricts string or integer values to an enumeration.
	OneOf []any
	// Between restricts numbers to an inclusive range.
	Between *[2]float64
	// LenMin is the minimum length of strings, arrays and sets.
	LenMin int
	// Elements declares the element of arrays and sets.
	Elements *Field
	// Keys and Values declare the entries of maps.
	Keys, Values *Field
	// Fields declares the fields of records.
	Fields []Field
	// Reference names the entity a foreign field points at.
	Reference string
	// Referenced is the schema of that entity, when this gateway has it: a
	// foreign value without a valid primary key is then checked against it,
	// as Kong reports a record's own errors before its missing id.
	Referenced *Schema
	// Check runs after the type and range checks and returns an error
	// message, or "" when the value is valid. On arrays and sets it runs
	// on the whole list once its elements are valid; on a record it runs
	// on the completed record, as the record's entity check.
	Check func(v any) string
	// Description is shown in /schemas output.
	Description string
}

// Schema declares an entity.
type Schema struct {
	// Name is the entity's plural name, e.g. "upstreams".
	Name string
	// EndpointKey is the unique field that may address an entity in URLs
	// in place of its id ("name" for upstreams, "target" for targets).
	EndpointKey string
	// Fields are the entity's fields, in Kong's order.
	Fields []Field
	// Shorthands rewrite the input before validation (Kong's shorthand_fields).
	Shorthands func(in map[string]any)
	// EntityChecks validate relations between fields; they run only when
	// every field they read is valid.
	EntityChecks []EntityCheck
}

// EntityCheck is a cross-field validation. Fields lists the fields it reads;
// Run records violations in v.
type EntityCheck struct {
	Fields []string
	Run    func(m map[string]any, v *Violations)
	// WithInvalidFields runs the check even when a field it reads failed
	// its own validation, as Kong's conditional checks do: the check's
	// message for that field then replaces the field's own.
	WithInvalidFields bool
}

// Field returns the top-level field with the given name.
func (s *Schema) Field(name string) (*Field, bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// Defaults returns a map holding every field's default value (nulls included),
// the representation of an entity built from nothing.
func (s *Schema) Defaults() map[string]any {
	return recordDefaults(s.Fields)
}

func recordDefaults(fields []Field) map[string]any {
	m := make(map[string]any, len(fields))
	for i := range fields {
		m[fields[i].Name] = fieldDefault(&fields[i])
	}
	return m
}

func fieldDefault(f *Field) any {
	if f.Type == Record && f.Default == nil {
		return recordDefaults(f.Fields)
	}
	return Clone(f.Default)
}

// Clone deep-copies a JSON-shaped value.
func Clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[k] = Clone(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = Clone(e)
		}
		return c
	case []int:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = float64(e)
		}
		return c
	case []string:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = e
		}
		return c
	case int:
		return float64(t)
	default:
		return v
	}
}

// Merge deep-merges patch into base the way Kong's PATCH does: records
// merge recursively, every other value (arrays and sets included) is
// replaced, and null clears. base is modified and returned.
func (s *Schema) Merge(base, patch map[string]any) map[string]any {
	return mergeRecord(s.Fields, base, patch)
}

func mergeRecord(fields []Field, base, patch map[string]any) map[string]any {
	if base == nil {
		base = map[string]any{}
	}
	for k, pv := range patch {
		f := findField(fields, k)
		bm, baseIsMap := base[k].(map[string]any)
		pm, patchIsMap := pv.(map[string]any)
		if f != nil && f.Type == Record && baseIsMap && patchIsMap {
			base[k] = mergeRecord(f.Fields, bm, pm)
			continue
		}
		base[k] = pv
	}
	return base
}

func findField(fields []Field, name string) *Field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
