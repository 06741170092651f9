package admin_test

import "testing"

const protocolsOneOf = "expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"

// TestKongSpecErrorAnswers sends the bad requests of Kong's
// 07-upstreams_routes_spec.lua and 09-routes_routes_spec.lua whose whole
// answers those specs compare, and checks nothing was written.
func TestKongSpecErrorAnswers(t *testing.T) {
	e := start(t)
	for _, tc := range []struct{ name, method, path, body, want string }{
		{"hash_on consumer, invalid fallback", "POST", "/upstreams",
			`{"name":"my.upstream","hash_on":"consumer","hash_fallback":"something that is invalid"}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_fallback: expected one of: none, ip, header, cookie, path, query_arg, uri_capture)",
			"fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}`},
		{"hash_on consumer, same fallback", "POST", "/upstreams",
			`{"name":"my.upstream","hash_on":"consumer","hash_fallback":"consumer"}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_fallback: expected one of: none, ip, header, cookie, path, query_arg, uri_capture)",
			"fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}`},
		{"hash_fallback header without its header", "POST", "/upstreams",
			`{"name":"my.upstream","hash_on":"consumer","hash_fallback":"header"}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_fallback'; hash_fallback_header: required field missing)",
			"fields":{"@entity":["failed conditional validation given value of field 'hash_fallback'"],"hash_fallback_header":"required field missing"}}`},
		{"service record without id", "POST", "/routes", `{"methods":["GET"],"service":{"name":null}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (service.id: missing primary key)","fields":{"service":{"id":"missing primary key"}}}`},
		{"service record with other fields", "POST", "/routes", `{"methods":["GET"],"service":{"protocol":"http"}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (service.id: missing primary key)","fields":{"service":{"id":"missing primary key"}}}`},
		{"invalid protocols and service record", "POST", "/routes", `{"methods":["GET"],"protocols":["foo","http"],"service":{"protocol":"foo"}}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (protocols.1: ` + protocolsOneOf + `; service.protocol: ` + protocolsOneOf + `)",
			"fields":{"protocols":["` + protocolsOneOf + `"],"service":{"protocol":"` + protocolsOneOf + `"}}}`},
		{"unknown field in service record", "POST", "/routes", `{"methods":["GET"],"service":{"foo":1}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (service.foo: unknown field)","fields":{"service":{"foo":"unknown field"}}}`},
		{"route service by id that is not a uuid", "POST", "/routes", `{"methods":["GET"],"service":{"id":"nope"}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (service.id: expected a valid UUID)","fields":{"service":{"id":"expected a valid UUID"}}}`},
	} {
		t.Log(tc.name)
		e.expect(tc.method, tc.path, tc.body, 400, tc.want)
	}
	e.expect("GET", "/upstreams", nil, 200, `{"data":[],"next":null}`)
	e.expect("GET", "/routes", nil, 200, `{"data":[],"next":null}`)
}

// TestDeleteRouteService: a route's service is not deleted through the
// route (405), as Kong's 09-routes_routes_spec.lua asserts; a missing
// route, or one without a service, is not found.
func TestDeleteRouteService(t *testing.T) {
	e := start(t)
	e.expectStatus("POST", "/services", `{"name":"s","host":"h.test"}`, 201)
	e.expectStatus("POST", "/routes", `{"name":"r","paths":["/my-route"],"service":{"name":"s"}}`, 201)
	e.expectStatus("POST", "/routes", `{"name":"alone","paths":["/alone"]}`, 201)
	e.expect("DELETE", "/routes/r/service", nil, 405, `{"message":"Method not allowed"}`)
	e.expect("DELETE", "/routes/in-existent-route/service", nil, 404, `{"message":"Not found"}`)
	e.expect("DELETE", "/routes/00000000-0000-4000-8000-000000000009/service", nil, 404, `{"message":"Not found"}`)
	e.expect("DELETE", "/routes/alone/service", nil, 404, `{"message":"Not found"}`)
	e.expectStatus("GET", "/services/s", nil, 200)
	e.expectStatus("GET", "/routes/r/service", nil, 200)
}
