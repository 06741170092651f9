package schema

// checkForeign validates a foreign-key value as Kong's schema library
// does: the record must hold the referenced entity's primary key ("id";
// other keys are ignored). When it does not, the record is first checked
// field by field against the referenced schema (only the fields it has),
// and those errors are reported if there are any; otherwise the primary
// key's own error: "missing primary key" when absent, "required field
// missing" when null, "expected a valid UUID" when malformed.
func checkForeign(f *Field, val any) (any, any) {
	m, ok := val.(map[string]any)
	if !ok {
		return val, "expected a record"
	}
	raw, present := m["id"]
	id, isString := raw.(string)
	if isString && IsUUID(id) {
		return map[string]any{"id": id}, nil
	}
	if f.Referenced != nil {
		if errs := checkPresentFields(f.Referenced.Fields, m); len(errs) > 0 {
			return val, errs
		}
	}
	switch {
	case !present:
		return val, map[string]any{"id": "missing primary key"}
	case raw == nil:
		return val, map[string]any{"id": "required field missing"}
	}
	return val, map[string]any{"id": "expected a valid UUID"}
}

// checkPresentFields validates only the fields a partial record has:
// unknown keys and invalid values, no required fields and no defaults.
func checkPresentFields(fields []Field, m map[string]any) map[string]any {
	errs := map[string]any{}
	for k, v := range m {
		field := findField(fields, k)
		if field == nil {
			errs[k] = "unknown field"
			continue
		}
		if v == nil {
			continue
		}
		if _, msg := checkValue(field, v, false); msg != nil {
			errs[k] = msg
		}
	}
	return errs
}
