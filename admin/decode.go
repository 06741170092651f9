package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// MaxBodyBytes caps request bodies; larger ones answer 413.
const MaxBodyBytes = 1 << 20

// errBodyTooLarge is Kong's answer to an oversized body (the 413 text of
// kong/error_handlers.lua).
var errBodyTooLarge = schema.Plain(http.StatusRequestEntityTooLarge, "Payload too large")

// decodeBody returns the request body as a JSON-shaped map. JSON bodies
// are decoded as is; form-urlencoded and multipart bodies are nested by
// their dotted keys and their values coerced to the types s declares.
func decodeBody(r *http.Request, s *schema.Schema) (map[string]any, error) {
	raw, err := readBody(r, MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	ct := r.Header.Get("Content-Type")
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	mediaType, params, _ := mime.ParseMediaType(ct)
	switch {
	case mediaType == "application/json" || strings.HasPrefix(ct, "application/json"):
		return decodeJSON(raw)
	case mediaType == "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, schema.Plain(http.StatusBadRequest, "Cannot parse form body")
		}
		return formToMap(values, s), nil
	case mediaType == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.Header.Set("Content-Type", mime.FormatMediaType(mediaType, params))
		if err := r.ParseMultipartForm(MaxBodyBytes); err != nil {
			return nil, schema.Plain(http.StatusBadRequest, "Cannot parse multipart body")
		}
		return formToMap(r.MultipartForm.Value, s), nil
	default:
		return nil, &schema.Error{Status: http.StatusUnsupportedMediaType}
	}
}

// readBody reads a request body of at most limit bytes, refusing several
// Content-Type headers as Kong does.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if len(r.Header.Values("Content-Type")) > 1 {
		return nil, schema.Plain(http.StatusBadRequest, "Multiple Content-Type headers not allowed")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, schema.Plain(http.StatusBadRequest, "Cannot read request body")
	}
	if int64(len(raw)) > limit {
		return nil, errBodyTooLarge
	}
	return raw, nil
}

// decodeJSON decodes a JSON object; anything else is Kong's "Cannot parse
// JSON body".
func decodeJSON(raw []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, schema.Plain(http.StatusBadRequest, "Cannot parse JSON body")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, schema.Plain(http.StatusBadRequest, "Cannot parse JSON body")
	}
	return m, nil
}

// formToMap nests form values by dotted keys ("healthchecks.active.type"),
// builds arrays from "k[]", 1-based "k[2]" and repeated keys, turns empty
// values into null, and coerces values to the schema's field types.
func formToMap(values map[string][]string, s *schema.Schema) map[string]any {
	out := map[string]any{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic, and "k[1]" before "k[2]"
	for _, key := range keys {
		vals := values[key]
		name, index, bracket := splitArrayKey(key)
		path := strings.Split(name, ".")
		field := lookupField(s.Fields, path)
		isList := bracket || len(vals) > 1 || (field != nil && (field.Type == schema.Array || field.Type == schema.Set))
		var elem *schema.Field
		if field != nil && field.Elements != nil {
			elem = field.Elements
		} else if field != nil && !isList {
			elem = field
		}
		conv := func(v string) any {
			if v == "" {
				return nil
			}
			if elem != nil {
				return schema.FromString(elem, v)
			}
			return v
		}
		if !isList {
			setPath(out, path, conv(vals[0]))
			continue
		}
		list, _ := getPath(out, path).([]any)
		for _, v := range vals {
			if v == "" && !bracket && len(vals) == 1 {
				setPath(out, path, nil) // "tags=" clears the field
				list = nil
				break
			}
			if index > 0 {
				for len(list) < index {
					list = append(list, nil)
				}
				list[index-1] = conv(v)
			} else {
				list = append(list, conv(v))
			}
		}
		if list != nil {
			setPath(out, path, list)
		}
	}
	return out
}

// splitArrayKey splits "tags[]" and "tags[2]" into the name and the
// 1-based index (0 for "[]").
func splitArrayKey(key string) (name string, index int, bracket bool) {
	open := strings.IndexByte(key, '[')
	if open < 0 || !strings.HasSuffix(key, "]") {
		return key, 0, false
	}
	inner := key[open+1 : len(key)-1]
	if inner == "" {
		return key[:open], 0, true
	}
	n, err := strconv.Atoi(inner)
	if err != nil || n < 1 || n > 1000 {
		return key, 0, false
	}
	return key[:open], n, true
}

func lookupField(fields []schema.Field, path []string) *schema.Field {
	for i := range fields {
		if fields[i].Name != path[0] {
			continue
		}
		if len(path) == 1 {
			return &fields[i]
		}
		switch fields[i].Type {
		case schema.Record:
			return lookupField(fields[i].Fields, path[1:])
		case schema.Map:
			if len(path) == 2 {
				return fields[i].Values
			}
		case schema.Foreign:
			if len(path) == 2 {
				return &schema.Field{Type: schema.String}
			}
		}
		return nil
	}
	return nil
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func getPath(m map[string]any, path []string) any {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m[path[len(path)-1]]
}
