package schema

// Describe renders the schema as Kong's GET /schemas/{entity} does:
// {"fields": [{"<name>": {"type": ..., "default": ..., ...}}, ...]}.
// decK fills entities from a file with these defaults before diffing, so
// they must be exactly the defaults the registry applies.
func (s *Schema) Describe() map[string]any {
	return map[string]any{"fields": describeFields(s.Fields), "entity_checks": []any{}}
}

func describeFields(fields []Field) []any {
	out := make([]any, len(fields))
	for i := range fields {
		out[i] = map[string]any{fields[i].Name: describeField(&fields[i])}
	}
	return out
}

func describeField(f *Field) map[string]any {
	d := map[string]any{"type": string(f.Type)}
	if f.Type == Record {
		d["fields"] = describeFields(f.Fields)
		d["required"] = true
	} else if f.Default != nil {
		d["default"] = Clone(f.Default)
	}
	if f.Required {
		d["required"] = true
	}
	if f.Auto {
		d["auto"] = true
	}
	if f.UUID {
		d["uuid"] = true
	}
	if f.Unique {
		d["unique"] = true
	}
	if f.OneOf != nil {
		d["one_of"] = Clone(f.OneOf)
	}
	if f.Between != nil {
		d["between"] = []any{f.Between[0], f.Between[1]}
	}
	if f.LenMin > 0 {
		d["len_min"] = f.LenMin
	}
	if f.Elements != nil {
		d["elements"] = describeField(f.Elements)
	}
	if f.Keys != nil {
		d["keys"] = describeField(f.Keys)
	}
	if f.Values != nil {
		d["values"] = describeField(f.Values)
	}
	if f.Reference != "" {
		d["reference"] = f.Reference
	}
	return d
}
