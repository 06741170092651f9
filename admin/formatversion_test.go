package admin_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOlderFormatVersionsAndTransform: POST /config takes
// _format_version "1.1" and "2.1" as Kong 3.x does, migrating route paths
// the 3.0 way (a path that is not plain becomes a "~" regex), and
// GET /config exports _transform false as Kong's export does.
func TestOlderFormatVersionsAndTransform(t *testing.T) {
	e := start(t)
	// the document of Kong's 02-kong_routes_spec.lua
	status, body, _ := e.do("POST", "/config", `{"config":"_format_version: \"1.1\"\nservices:\n- host: \"konghq.com\"\n"}`)
	if status != 201 {
		t.Fatalf("POST /config 1.1: %d %s", status, body)
	}
	doc := `_format_version: "2.1"
_transform: true
services:
  - name: s
    host: h.test
    routes:
      - name: nested
        paths: ["/users/\\d+", "/plain", "/a/v%31/./b"]
routes:
  - name: top
    paths: ["/item/(?<id>[0-9]+)$", "/x%2E(y)%2F", "/x%2Ey%2Fz"]
`
	status, body, _ = e.do("POST", "/config", []byte(doc), "application/yaml")
	if status != 201 {
		t.Fatalf("POST /config 2.1: %d %s", status, body)
	}
	for route, want := range map[string][]any{
		"nested": {`~/users/\d+`, "/plain", "/a/v1/b"},
		"top":    {"~/item/(?<id>[0-9]+)$", `~/x\.(y)%2F`, "/x.y%2Fz"},
	} {
		got := e.expectStatus("GET", "/routes/"+route, nil, 200)
		if !reflect.DeepEqual(got["paths"], want) {
			t.Errorf("route %s: paths %v, want %v", route, got["paths"], want)
		}
	}

	e.expect("POST", "/config", `{"_format_version":"4.0"}`, 400,
		`{"code":14,"name":"invalid declarative configuration","message":"declarative config is invalid: {_format_version=\"expected one of: 1.1, 2.1, 3.0\"}","fields":{"_format_version":"expected one of: 1.1, 2.1, 3.0"}}`)

	status, body, _ = e.do("GET", "/config", nil)
	var export struct{ Config string }
	json.Unmarshal(body, &export)
	var exported map[string]any
	if err := yaml.Unmarshal([]byte(export.Config), &exported); err != nil || status != 200 {
		t.Fatalf("GET /config: %d %s", status, body)
	}
	if exported["_format_version"] != "3.0" || exported["_transform"] != false {
		t.Fatalf("GET /config: _format_version %v, _transform %v", exported["_format_version"], exported["_transform"])
	}
	status, body, _ = e.do("POST", "/config", []byte(export.Config), "application/yaml")
	if status != 201 {
		t.Fatalf("POST of the export: %d %s", status, body)
	}
}
