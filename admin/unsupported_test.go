package admin_test

import (
	"strings"
	"testing"
)

// TestUnsupportedEntitiesNameTheCaddyDirective: what decK asks for a
// kong.yaml with plugins, consumers or certificates answers with a
// message naming what this gateway lacks and the Caddy directive that
// does the job: the plugin schemas decK reads before writing anything,
// and every write, which changes nothing.
func TestUnsupportedEntitiesNameTheCaddyDirective(t *testing.T) {
	e := start(t)
	e.expect("GET", "/schemas/plugins/key-auth", nil, 404,
		`{"message":"No plugin named 'key-auth': this gateway has no Kong plugins: Caddy's forward_auth does the job of 'key-auth'"}`)
	e.expect("GET", "/schemas/plugins/rate-limiting", nil, 404,
		`{"message":"No plugin named 'rate-limiting': this gateway has no Kong plugins: Caddy's rate_limit (the caddy-ratelimit module) does the job of 'rate-limiting'"}`)
	e.expect("GET", "/schemas/plugins/my-custom", nil, 404,
		`{"message":"No plugin named 'my-custom': this gateway has no Kong plugins: Caddy handler directives placed before kong_proxy or reverse_proxy do plugins' jobs (basic_auth or forward_auth for authentication, header and request_header for transformations, log, metrics, request_body, respond)"}`)
	e.expect("GET", "/schemas/consumers", nil, 404,
		`{"message":"No entity named 'consumers': this gateway has no consumers (it serves Kong's services, routes, upstreams and targets): authenticate clients with Caddy's basic_auth or forward_auth directive (hash_on consumer reads the authenticated user id)"}`)

	certificates := `{"code":12,"name":"operation unsupported","message":"this gateway has no certificates (it serves Kong's services, routes, upstreams and targets): Caddy's tls directive and automatic HTTPS manage certificates"}`
	consumers := `{"code":12,"name":"operation unsupported","message":"this gateway has no consumers (it serves Kong's services, routes, upstreams and targets): authenticate clients with Caddy's basic_auth or forward_auth directive (hash_on consumer reads the authenticated user id)"}`
	e.expectStatus("POST", "/services", `{"name":"s","host":"h.test"}`, 201)
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/certificates", `{"cert":"x","key":"y"}`, certificates},
		{"PUT", "/certificates/00000000-0000-4000-8000-000000000001", `{"cert":"x","key":"y"}`, certificates},
		{"POST", "/consumers", `{"username":"alice"}`, consumers},
		{"PUT", "/consumers/alice", `{}`, consumers},
		{"DELETE", "/consumers/alice", ``, consumers},
		{"POST", "/plugins", `{"name":"key-auth"}`, ""},
		{"PATCH", "/plugins/00000000-0000-4000-8000-000000000001", `{}`, ""},
		{"POST", "/services/s/plugins", `{"name":"key-auth"}`, ""},
		{"POST", "/schemas/plugins/validate", `{"name":"key-auth"}`, ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		status, got, _ := e.do(tc.method, tc.path, body)
		if status != 405 {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, status, got)
		}
		if tc.want != "" {
			e.compare(tc.method+" "+tc.path, status, got, 405, tc.want)
		} else if !strings.Contains(string(got), `"message":"this gateway has no plugins (it serves Kong's services, routes, upstreams and targets): Caddy handler directives`) {
			t.Fatalf("%s %s: %s", tc.method, tc.path, got)
		}
	}
	e.expect("GET", "/consumers/alice", nil, 404, `{"message":"Not found"}`)
	for _, path := range []string{"/plugins", "/consumers", "/certificates", "/services/s/plugins"} {
		e.expect("GET", path, nil, 200, `{"data":[],"next":null}`)
	}
}
