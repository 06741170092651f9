package admin_test

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestSchemaDefaultsMatchWhatTheRegistryApplies fills an entity from the
// defaults GET /schemas/upstreams publishes (as decK does) and checks the
// result equals what POST creates: a decK sync then sees no spurious diff.
func TestSchemaDefaultsMatchWhatTheRegistryApplies(t *testing.T) {
	e := start(t)
	_, body, _ := e.do("GET", "/schemas/upstreams", nil)
	var desc struct{ Fields []map[string]map[string]any }
	if err := json.Unmarshal(body, &desc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	filled := map[string]any{"name": "from-schema"}
	fillDefaults(filled, desc.Fields)
	created := e.expect("POST", "/upstreams", `{"name":"from-schema"}`, 201, upstreamBody("from-schema", ""))
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(created, k)
	}
	if !reflect.DeepEqual(filled, created) {
		fb, _ := json.Marshal(filled)
		cb, _ := json.Marshal(created)
		t.Fatalf("schema defaults\n%s\ndiffer from the created entity\n%s", fb, cb)
	}
	e.expect("GET", "/schemas/nope", nil, 404, `{"message":"No entity named 'nope'"}`)
	e.expect("POST", "/schemas/targets/validate", `{"target":"a.test:80"}`, 200, `{"message":"schema validation successful"}`)
	e.expect("POST", "/schemas/upstreams/validate", `{"name":"x","slots":1}`, 400,
		`{"code":2,"name":"schema violation","message":"schema violation (slots: value should be between 10 and 65536)","fields":{"slots":"value should be between 10 and 65536"}}`)
	if _, list, _ := e.do("GET", "/upstreams", nil); json.Valid(list) && len(list) > 0 {
		var page struct{ Data []any }
		json.Unmarshal(list, &page)
		if len(page.Data) != 1 {
			t.Fatalf("validate wrote something: %s", list)
		}
	}
}

// fillDefaults applies schema defaults the way decK's defaulter does:
// absent fields take "default" (null when none), records recurse.
func fillDefaults(m map[string]any, fields []map[string]map[string]any) {
	for _, f := range fields {
		for name, d := range f {
			if _, set := m[name]; set || d["auto"] == true {
				continue
			}
			if d["type"] == "record" {
				sub := map[string]any{}
				var subFields []map[string]map[string]any
				raw, _ := json.Marshal(d["fields"])
				json.Unmarshal(raw, &subFields)
				fillDefaults(sub, subFields)
				m[name] = sub
				continue
			}
			m[name] = d["default"]
		}
	}
}
