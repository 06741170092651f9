package schema

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Kong's DAO error codes (kong/db/errors.lua).
const (
	CodeInvalidPrimaryKey     = 1
	CodeSchemaViolation       = 2
	CodePrimaryKeyViolation   = 3
	CodeForeignKeyViolation   = 4
	CodeUniqueViolation       = 5
	CodeNotFound              = 6
	CodeInvalidOffset         = 7
	CodeDatabaseError         = 8
	CodeInvalidSize           = 9
	CodeInvalidUnique         = 10
	CodeInvalidOptions        = 11
	CodeOperationUnsupported  = 12
	CodeForeignKeysUnresolved = 13
	CodeDeclarativeConfig     = 14
)

// Error is a Kong-shaped error: the body of every failed Admin API call and
// the error returned by registry writes. Status is the HTTP status Kong
// answers with; it is not serialised.
type Error struct {
	Status  int            `json:"-"`
	Code    int            `json:"code,omitempty"`
	Name    string         `json:"name,omitempty"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
	Options map[string]any `json:"options,omitempty"`
	// FlattenedErrors is POST /config's per-entity error list, given on
	// ?flatten_errors=1.
	FlattenedErrors []any `json:"flattened_errors,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Plain returns an error whose body is just {"message": msg}, as Kong
// answers for routing-level failures ("Not found", "Method not allowed").
func Plain(status int, msg string) *Error {
	return &Error{Status: status, Message: msg}
}

// NotFoundPlain is Kong's bare 404.
func NotFoundPlain() *Error { return Plain(http.StatusNotFound, "Not found") }

// SchemaViolation builds code 2 from collected violations, with Kong's
// message: entity messages first, then fields sorted by name.
func SchemaViolation(v *Violations) *Error {
	var buf []string
	if list, ok := v.Fields["@entity"].([]any); ok {
		for _, m := range list {
			buf = append(buf, fmt.Sprint(m))
		}
	}
	for _, name := range sortedKeys(v.Fields) {
		if name == "@entity" {
			continue
		}
		switch fe := v.Fields[name].(type) {
		case map[string]any:
			for _, sub := range sortedKeys(fe) {
				buf = append(buf, fmt.Sprintf("%s.%s: %s", name, sub, luaValue(fe[sub])))
			}
		case []any:
			for i, m := range fe {
				if m != nil {
					buf = append(buf, fmt.Sprintf("%s.%d: %s", name, i+1, luaValue(m)))
				}
			}
		default:
			buf = append(buf, fmt.Sprintf("%s: %v", name, fe))
		}
	}
	msg := "schema violation (" + strings.Join(buf, "; ") + ")"
	if len(buf) != 1 {
		msg = fmt.Sprintf("%d schema violations (%s)", len(buf), strings.Join(buf, "; "))
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeSchemaViolation, Name: "schema violation", Message: msg, Fields: v.Fields}
}

// FieldViolation is a schema violation on a single field.
func FieldViolation(field, msg string) *Error {
	v := &Violations{}
	v.Add(field, msg)
	return SchemaViolation(v)
}

// UniqueViolation is code 5 (HTTP 409) for the given unique key.
func UniqueViolation(key map[string]any) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeUniqueViolation, Name: "unique constraint violation",
		Message: "UNIQUE violation detected on '" + LuaTable(key) + "'", Fields: key}
}

// NotFound is code 6 for a PATCH of a missing entity. byPrimaryKey selects
// Kong's "primary key" wording.
func NotFound(key map[string]any, byPrimaryKey bool) *Error {
	msg := "could not find the entity with '" + LuaTable(key) + "'"
	if byPrimaryKey {
		msg = "could not find the entity with primary key '" + LuaTable(key) + "'"
	}
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Name: "not found", Message: msg, Fields: key}
}

// InvalidUnique is code 10, for a URL key that is neither a UUID nor a valid
// value of the endpoint key.
func InvalidUnique(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidUnique, Name: "invalid unique " + field, Message: msg}
}

// InvalidSize is code 9.
func InvalidSize(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidSize, Name: "invalid size", Message: msg}
}

// InvalidOffset is code 7.
func InvalidOffset(offset, why string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidOffset, Name: "invalid offset",
		Message: fmt.Sprintf("'%s' is not a valid offset: %s", offset, why)}
}

// InvalidOption is code 11 with the offending option in "options".
func InvalidOption(option, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidOptions, Name: "invalid options",
		Message: fmt.Sprintf("invalid option (%s: %s)", option, msg), Options: map[string]any{option: msg}}
}

// DatabaseError is code 8. Kong answers it with HTTP 500; a store that is
// unreachable answers 503 so clients know to retry.
func DatabaseError(status int, msg string) *Error {
	return &Error{Status: status, Code: CodeDatabaseError, Name: "database error", Message: msg}
}

// LuaTable renders a JSON-shaped map the way Kong's messages print Lua
// tables: {a="x",b={id="y"}}, keys sorted.
func LuaTable(m map[string]any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		if luaIdent.MatchString(k) {
			b.WriteString(k)
		} else {
			b.WriteString("[" + strconv.Quote(k) + "]")
		}
		b.WriteByte('=')
		b.WriteString(luaLiteral(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// luaIdent matches the keys Lua's pretty-printer writes bare; others are
// written ["key"].
var luaIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func luaLiteral(v any) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case map[string]any:
		return LuaTable(t)
	case []any:
		// a list with holes is a sparse Lua table: its entries print with
		// their 1-based index
		sparse := false
		for _, e := range t {
			sparse = sparse || e == nil
		}
		parts := make([]string, 0, len(t))
		for i, e := range t {
			switch {
			case !sparse:
				parts = append(parts, luaLiteral(e))
			case e != nil:
				parts = append(parts, "["+strconv.Itoa(i+1)+"]="+luaLiteral(e))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	case nil:
		return "null"
	default:
		return fmt.Sprint(t)
	}
}

func luaValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return luaLiteral(v)
}

// sortStrings sorts in place and returns s.
func sortStrings(s []string) []string { sort.Strings(s); return s }
