package schema

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Mode tells Process which operation the input is for.
type Mode int

// Modes of Process.
const (
	// Insert is a create (POST): absent fields get their defaults.
	Insert Mode = iota
	// Upsert is a full replace (PUT): absent fields get their defaults.
	Upsert
	// Update is a partial update (PATCH): the caller has already merged the
	// input into the stored entity, so nothing is defaulted.
	Update
)

// Violations collects field errors in Kong's shape: a field name maps to a
// message, to a nested Violations map for records, or to a per-index list
// for arrays; "@entity" holds entity-level messages.
type Violations struct {
	Fields map[string]any
}

// Add records msg for the top-level field name.
func (v *Violations) Add(name, msg string) {
	if v.Fields == nil {
		v.Fields = map[string]any{}
	}
	v.Fields[name] = msg
}

// AddEntity records an entity-level message.
func (v *Violations) AddEntity(msg string) {
	if v.Fields == nil {
		v.Fields = map[string]any{}
	}
	list, _ := v.Fields["@entity"].([]any)
	for _, m := range list {
		if m == msg {
			return
		}
	}
	v.Fields["@entity"] = append(list, msg)
}

// Has reports whether field name already has a violation.
func (v *Violations) Has(name string) bool {
	_, ok := v.Fields[name]
	return ok
}

// Empty reports whether no violation was recorded.
func (v *Violations) Empty() bool { return len(v.Fields) == 0 }

// Process validates in against the schema for the given mode. It applies the
// shorthands, rejects unknown fields, fills defaults (Insert, Upsert), checks
// types, ranges and entity checks, and returns the complete entity map. in is
// modified. On failure it returns the violations; the returned map is then
// not meaningful.
func (s *Schema) Process(in map[string]any, mode Mode) (map[string]any, *Violations) {
	if s.Shorthands != nil && mode != Update {
		s.Shorthands(in)
	}
	v := &Violations{}
	out := processRecord(s.Fields, in, mode != Update, v.fieldsMap())
	if len(v.Fields) == 0 {
		for _, check := range s.EntityChecks {
			check.Run(out, v)
		}
	} else {
		for _, check := range s.EntityChecks {
			clean := true
			for _, f := range check.Fields {
				if _, bad := v.Fields[f]; bad {
					clean = false
				}
			}
			if clean || check.WithInvalidFields {
				check.Run(out, v)
			}
		}
	}
	if len(v.Fields) > 0 {
		return out, v
	}
	return out, nil
}

// ApplyShorthands runs the schema's shorthands on a partial input (PATCH
// bodies), before it is merged into the stored entity.
func (s *Schema) ApplyShorthands(in map[string]any) {
	if s.Shorthands != nil {
		s.Shorthands(in)
	}
}

func (v *Violations) fieldsMap() map[string]any {
	if v.Fields == nil {
		v.Fields = map[string]any{}
	}
	return v.Fields
}

func processRecord(fields []Field, in map[string]any, fillDefaults bool, errs map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k := range in {
		if findField(fields, k) == nil {
			errs[k] = "unknown field"
		}
	}
	for i := range fields {
		f := &fields[i]
		val, present := in[f.Name]
		if !present {
			if fillDefaults || f.Type == Record {
				val = fieldDefault(f)
			} else {
				val = nil
			}
		}
		if val == nil && f.Type == Record {
			val = fieldDefault(f)
		}
		if val == nil {
			if f.Required && !f.Auto {
				errs[f.Name] = "required field missing"
			}
			out[f.Name] = nil
			continue
		}
		nv, msg := checkValue(f, val, fillDefaults)
		if msg != nil {
			errs[f.Name] = msg
		}
		out[f.Name] = nv
	}
	return out
}

// checkValue validates one value and returns it normalised (sets deduped,
// records completed). The message is a string, or a map/list for nested
// violations.
func checkValue(f *Field, val any, fillDefaults bool) (any, any) {
	switch f.Type {
	case String:
		s, ok := val.(string)
		if !ok {
			return val, "expected a string"
		}
		if f.LenMin > 0 && len(s) < f.LenMin {
			return val, fmt.Sprintf("length must be at least %d", f.LenMin)
		}
		if f.UUID && !IsUUID(s) {
			return val, "expected a valid UUID"
		}
	case Integer:
		n, ok := val.(float64)
		if !ok || n != math.Trunc(n) || math.IsInf(n, 0) {
			return val, "expected an integer"
		}
	case Number:
		n, ok := val.(float64)
		if !ok || math.IsNaN(n) || math.IsInf(n, 0) {
			return val, "expected a number"
		}
	case Boolean:
		if _, ok := val.(bool); !ok {
			return val, "expected a boolean"
		}
	case Array, Set:
		list, ok := val.([]any)
		if !ok {
			if f.Type == Set {
				return val, "expected a set"
			}
			return val, "expected an array"
		}
		if f.LenMin > 0 && len(list) < f.LenMin {
			return val, fmt.Sprintf("length must be at least %d", f.LenMin)
		}
		if f.Type == Set {
			list = dedupe(list)
		}
		var elemErrs []any
		for i, e := range list {
			if e == nil {
				elemErrs = setIndex(elemErrs, i, "required field missing")
				continue
			}
			ne, msg := checkValue(f.Elements, e, fillDefaults)
			list[i] = ne
			if msg != nil {
				elemErrs = setIndex(elemErrs, i, msg)
			}
		}
		if elemErrs != nil {
			return list, elemErrs
		}
		if f.Check != nil {
			if msg := f.Check(list); msg != "" {
				return list, msg
			}
		}
		return list, nil
	case Record:
		m, ok := val.(map[string]any)
		if !ok {
			return val, "expected a record"
		}
		errs := map[string]any{}
		out := processRecord(f.Fields, m, fillDefaults, errs)
		if len(errs) > 0 {
			return out, errs
		}
		if f.Check != nil {
			// a record's Check is its entity check: Kong reports it under
			// the record's "@entity"
			if msg := f.Check(out); msg != "" {
				return out, map[string]any{"@entity": []any{msg}}
			}
		}
		return out, nil
	case Map:
		m, ok := val.(map[string]any)
		if !ok {
			return val, "expected a map"
		}
		errs := map[string]any{}
		for k, e := range m {
			if f.Keys != nil {
				if _, msg := checkValue(f.Keys, k, fillDefaults); msg != nil {
					errs[k] = msg
					continue
				}
			}
			if f.Values != nil {
				ne, msg := checkValue(f.Values, e, fillDefaults)
				m[k] = ne
				if msg != nil {
					errs[k] = msg
				}
			}
		}
		if len(errs) > 0 {
			return m, errs
		}
		return m, nil
	case Foreign:
		return checkForeign(f, val)
	}
	if f.OneOf != nil && !oneOf(f.OneOf, val) {
		return val, "expected one of: " + joinAny(f.OneOf)
	}
	if f.Between != nil {
		n := val.(float64)
		if n < f.Between[0] || n > f.Between[1] {
			return val, fmt.Sprintf("value should be between %s and %s", fmtNum(f.Between[0]), fmtNum(f.Between[1]))
		}
	}
	if f.Check != nil {
		if msg := f.Check(val); msg != "" {
			return val, msg
		}
	}
	return val, nil
}

func setIndex(list []any, i int, msg any) []any {
	for len(list) <= i {
		list = append(list, nil)
	}
	list[i] = msg
	return list
}

func dedupe(list []any) []any {
	out := list[:0:0]
	seen := map[any]bool{}
	for _, e := range list {
		switch e.(type) {
		case string, float64, bool:
			if seen[e] {
				continue
			}
			seen[e] = true
		}
		out = append(out, e)
	}
	return out
}

func oneOf(set []any, v any) bool {
	for _, s := range set {
		switch sv := s.(type) {
		case int:
			if n, ok := v.(float64); ok && n == float64(sv) {
				return true
			}
		default:
			if s == v {
				return true
			}
		}
	}
	return false
}

func joinAny(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func fmtNum(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// IsUUID reports whether s is a UUID in Kong's accepted form
// (8-4-4-4-12 lower- or upper-case hex digits).
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
