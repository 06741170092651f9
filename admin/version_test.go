package admin_test

import (
	"encoding/json"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"
)

// kong311Fields are the fields of Kong 3.11's entity schemas, the version
// GET / reports. Source: Kong/kong kong/db/schema/entities/upstreams.lua,
// targets.lua, services.lua and routes.lua at tag 3.9.3 (unchanged in
// 3.10.0; routes without the expressions flavor's expression and
// priority), plus the two upstream fields Kong 3.11 added
// (sticky_sessions_cookie, sticky_sessions_cookie_path; Kong's 3.11
// Admin API specification and go-kong's ">=3.11.0" default for the
// latter). Nested: the upstream healthchecks record of upstreams.lua.
var kong311Fields = map[string][]string{
	"upstreams": {"id", "created_at", "updated_at", "name", "algorithm", "hash_on", "hash_fallback", "hash_on_header",
		"hash_fallback_header", "hash_on_cookie", "hash_on_cookie_path", "hash_on_query_arg", "hash_fallback_query_arg",
		"hash_on_uri_capture", "hash_fallback_uri_capture", "slots", "healthchecks", "tags", "host_header",
		"client_certificate", "use_srv_name", "sticky_sessions_cookie", "sticky_sessions_cookie_path"},
	"targets": {"id", "created_at", "updated_at", "upstream", "target", "weight", "tags"},
	"services": {"id", "created_at", "updated_at", "name", "retries", "protocol", "host", "port", "path",
		"connect_timeout", "write_timeout", "read_timeout", "tags", "client_certificate", "tls_verify",
		"tls_verify_depth", "ca_certificates", "enabled"},
	"routes": {"id", "created_at", "updated_at", "name", "protocols", "https_redirect_status_code", "strip_path",
		"preserve_host", "request_buffering", "response_buffering", "tags", "service", "snis", "sources",
		"destinations", "methods", "hosts", "paths", "headers", "regex_priority", "path_handling"},
	"upstreams.healthchecks":                   {"active", "passive", "threshold"},
	"upstreams.healthchecks.active":            {"type", "timeout", "concurrency", "http_path", "https_sni", "https_verify_certificate", "headers", "healthy", "unhealthy"},
	"upstreams.healthchecks.active.healthy":    {"interval", "http_statuses", "successes"},
	"upstreams.healthchecks.active.unhealthy":  {"interval", "http_statuses", "tcp_failures", "timeouts", "http_failures"},
	"upstreams.healthchecks.passive":           {"type", "healthy", "unhealthy"},
	"upstreams.healthchecks.passive.healthy":   {"http_statuses", "successes"},
	"upstreams.healthchecks.passive.unhealthy": {"http_statuses", "tcp_failures", "timeouts", "http_failures"},
}

// TestVersionMatchesServedSchemas: GET / and every answer's Server header
// report Kong 3.11, and a GET /config export of entities with every field
// set holds only fields of Kong 3.11's schemas (and does hold the fields
// 3.11 added, which an older version would refuse).
func TestVersionMatchesServedSchemas(t *testing.T) {
	e := start(t)
	for _, path := range []string{"/", "/status", "/upstreams", "/nothing"} {
		_, body, hdr := e.do("GET", path, nil)
		if hdr.Get("Server") != "kong/3.11.0" {
			t.Fatalf("GET %s: Server %q", path, hdr.Get("Server"))
		}
		if path == "/" {
			var root map[string]any
			json.Unmarshal(body, &root)
			if root["version"] != "3.11.0" || root["edition"] != "community" {
				t.Fatalf("GET /: version %v, edition %v", root["version"], root["edition"])
			}
		}
	}

	e.expectStatus("POST", "/upstreams", `{"name":"u","algorithm":"sticky-sessions","sticky_sessions_cookie":"s","sticky_sessions_cookie_path":"/app",
		"hash_fallback":"none","host_header":"h.test","tags":["t"],"use_srv_name":true,"slots":100,
		"healthchecks":{"threshold":10,"active":{"https_sni":"sni.test","headers":{"x":["y"]},"healthy":{"interval":5}},"passive":{"unhealthy":{"timeouts":2}}}}`, 201)
	e.expectStatus("POST", "/upstreams/u/targets", `{"target":"10.0.0.1:80","weight":5,"tags":["t"]}`, 201)
	e.expectStatus("POST", "/services", `{"name":"s","url":"https://h.test:8443/p","retries":2,"tags":["t"],"tls_verify":true,"tls_verify_depth":2,
		"connect_timeout":1,"read_timeout":2,"write_timeout":3,"enabled":true}`, 201)
	e.expectStatus("POST", "/routes", `{"name":"r","service":{"name":"s"},"protocols":["https"],"hosts":["a.test"],"paths":["/a"],"methods":["GET"],
		"headers":{"x":["y"]},"snis":["a.test"],"regex_priority":1,"path_handling":"v1","preserve_host":true,"strip_path":false,
		"https_redirect_status_code":301,"request_buffering":false,"response_buffering":false,"tags":["t"]}`, 201)

	status, body, _ := e.do("GET", "/config", nil)
	var export struct{ Config string }
	if err := json.Unmarshal(body, &export); err != nil || status != 200 {
		t.Fatalf("GET /config: %d %s", status, body)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(export.Config), &doc); err != nil {
		t.Fatalf("export is not YAML: %v\n%s", err, export.Config)
	}
	seen := map[string]bool{}
	for key, v := range doc {
		switch key {
		case "_format_version", "_transform":
			continue
		}
		if kong311Fields[key] == nil {
			t.Fatalf("export has %q, not an entity list of Kong 3.11", key)
		}
		list, _ := v.([]any)
		for _, entity := range list {
			checkFields(t, key, entity.(map[string]any), seen)
		}
	}
	for _, want := range []string{"upstreams.sticky_sessions_cookie", "upstreams.sticky_sessions_cookie_path", "upstreams.healthchecks.active.https_sni",
		"targets.weight", "services.tls_verify_depth", "routes.path_handling", "routes.snis"} {
		if !seen[want] {
			t.Errorf("export lacks %s:\n%s", want, export.Config)
		}
	}
}

// checkFields fails on any key of m that Kong 3.11's schema (schema, a
// key of kong311Fields) does not have, recursing into nested records
// (the healthchecks of upstreams), and records each key seen as
// "schema.key".
func checkFields(t *testing.T, schema string, m map[string]any, seen map[string]bool) {
	t.Helper()
	allowed := map[string]bool{}
	for _, f := range kong311Fields[schema] {
		allowed[f] = true
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := schema + "." + k
		if !allowed[k] {
			t.Errorf("%s is not a field of Kong 3.11's schema", path)
		}
		seen[path] = true
		if sub, ok := m[k].(map[string]any); ok && kong311Fields[path] != nil {
			checkFields(t, path, sub, seen)
		}
	}
}
