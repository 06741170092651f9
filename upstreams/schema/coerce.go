package schema

import "strconv"

// FromString converts a textual value (a form field, a Caddyfile token) to
// the JSON-shaped value the field's type expects: numbers for integer and
// number fields, booleans from "true"/"false". A value that does not
// convert is returned as the string, so validation reports Kong's
// "expected a …" message for it.
func FromString(f *Field, s string) any {
	switch f.Type {
	case Integer, Number:
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return n
		}
	case Boolean:
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return s
}
