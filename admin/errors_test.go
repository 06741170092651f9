package admin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// TestBadInputGetsKongErrorsAndChangesNothing sends every kind of bad
// input and checks the whole Kong-shaped answer, then that the state is
// what it was before.
func TestBadInputGetsKongErrorsAndChangesNothing(t *testing.T) {
	e := start(t)
	e.expect("POST", "/upstreams", `{"name":"u"}`, 201, upstreamBody("u", ""))
	e.expect("POST", "/upstreams/u/targets", `{"target":"127.0.0.1:9001"}`, 201,
		`{"id":"<id>","created_at":0,"updated_at":0,"upstream":{"id":"<id>"},"target":"127.0.0.1:9001","weight":100,"tags":null}`)
	_, before, _ := e.do("GET", "/upstreams/u", nil)
	_, beforeTargets, _ := e.do("GET", "/upstreams/u/targets", nil)

	for _, tc := range []struct {
		name, method, path string
		body               any
		ct                 string
		status             int
		want               string
	}{
		{"malformed json", "POST", "/upstreams", `{"name":`, "", 400, `{"message":"Cannot parse JSON body"}`},
		{"json array", "POST", "/upstreams", `[1]`, "", 400, `{"message":"Cannot parse JSON body"}`},
		{"missing name", "POST", "/upstreams", `{}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: required field missing)","fields":{"name":"required field missing"}}`},
		{"unknown field", "POST", "/upstreams", `{"name":"x","foo":1}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (foo: unknown field)","fields":{"foo":"unknown field"}}`},
		{"wrong type", "POST", "/upstreams", `{"name":"x","slots":"10"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (slots: expected an integer)","fields":{"slots":"expected an integer"}}`},
		{"slots range", "POST", "/upstreams", `{"name":"x","slots":70000}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (slots: value should be between 10 and 65536)","fields":{"slots":"value should be between 10 and 65536"}}`},
		{"bad hostname", "POST", "/upstreams", `{"name":"bad_-.x-"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: Invalid name ('bad_-.x-'); must be a valid hostname)","fields":{"name":"Invalid name ('bad_-.x-'); must be a valid hostname"}}`},
		{"hash conflict", "POST", "/upstreams", `{"name":"x","hash_on":"cookie","hash_on_cookie":"c","hash_fallback":"ip"}`, "", 400, `{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_fallback: expected one of: none)","fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none"}}`},
		{"header required", "POST", "/upstreams", `{"name":"x","hash_on":"header"}`, "", 400, `{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_on_header: required field missing)","fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_on_header":"required field missing"}}`},
		{"duplicate name", "POST", "/upstreams", `{"name":"u"}`, "", 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"u\"}'","fields":{"name":"u"}}`},
		{"invalid key", "GET", "/upstreams/1.2.3.4", nil, "", 400, `{"code":10,"name":"invalid unique name","message":"Invalid name ('1.2.3.4'); no ip addresses allowed"}`},
		{"invalid put key", "PUT", "/upstreams/1.2.3.4", `{}`, "", 400, `{"code":10,"name":"invalid unique name","message":"Invalid name ('1.2.3.4'); no ip addresses allowed"}`},
		{"patch missing", "PATCH", "/upstreams/nope", `{"slots":20}`, "", 404, `{"code":6,"name":"not found","message":"could not find the entity with '{name=\"nope\"}'","fields":{"name":"nope"}}`},
		{"unknown upstream", "GET", "/upstreams/nope", nil, "", 404, `{"message":"Not found"}`},
		{"unknown path", "GET", "/nothing/here", nil, "", 404, `{"message":"Not found"}`},
		{"collection delete", "DELETE", "/upstreams", nil, "", 405, `{"message":"Method not allowed"}`},
		{"unsupported media", "POST", "/upstreams", `name=x`, "text/plain", 415, ``},
		{"oversized", "POST", "/upstreams", `{"name":"x","tags":["` + strings.Repeat("a", 1<<20) + `"]}`, "", 413, `{"message":"Payload too large"}`},
		{"bad size", "GET", "/upstreams?size=abc", nil, "", 400, `{"code":9,"name":"invalid size","message":"size must be a number"}`},
		{"size range", "GET", "/upstreams?size=1001", nil, "", 400, `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`},
		{"bad offset", "GET", "/upstreams?offset=%25%25", nil, "", 400, `{"code":7,"name":"invalid offset","message":"'%%' is not a valid offset: bad base64 encoding"}`},
		{"empty tags", "GET", "/upstreams?tags=", nil, "", 400, `{"code":11,"name":"invalid options","message":"invalid option (tags: cannot be null)","options":{"tags":"cannot be null"}}`},
		{"mixed tags", "GET", "/upstreams?tags=a,b/c", nil, "", 400, `{"code":11,"name":"invalid options","message":"invalid option (tags: invalid filter syntax)","options":{"tags":"invalid filter syntax"}}`},
		{"target missing upstream", "POST", "/upstreams/nope/targets", `{"target":"a:1"}`, "", 404, `{"message":"Not found"}`},
		{"target invalid", "POST", "/upstreams/u/targets", `{"target":"not a host"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (target: Invalid target; not a valid hostname or ip address)","fields":{"target":"Invalid target; not a valid hostname or ip address"}}`},
		{"weight range", "POST", "/upstreams/u/targets", `{"target":"a:1","weight":65536}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (weight: value should be between 0 and 65535)","fields":{"weight":"value should be between 0 and 65535"}}`},
		{"duplicate target", "POST", "/upstreams/u/targets", `{"target":"127.0.0.1:9001"}`, "", 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{target=\"127.0.0.1:9001\",upstream={id=\"<id>\"}}'","fields":{"target":"127.0.0.1:9001","upstream":{"id":"<id>"}}}`},
		{"target put creates nothing", "PUT", "/upstreams/u/targets/127.0.0.1:9999", `{"weight":1}`, "", 404, `{"message":"Not found"}`},
		{"target delete missing", "DELETE", "/upstreams/u/targets/127.0.0.1:9999", nil, "", 404, `{"message":"Not found"}`},
		{"patch bad weight", "PATCH", "/upstreams/u/targets/127.0.0.1:9001", `{"weight":-1}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (weight: value should be between 0 and 65535)","fields":{"weight":"value should be between 0 and 65535"}}`},
		{"targets endpoint disabled", "GET", "/targets", nil, "", 404, `{"message":"Not found"}`},
		{"name is an ip", "POST", "/upstreams", `{"name":"1.2.3.4"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: Invalid name ('1.2.3.4'); no ip addresses allowed)","fields":{"name":"Invalid name ('1.2.3.4'); no ip addresses allowed"}}`},
		{"name with port", "POST", "/upstreams", `{"name":"a.test:80"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: Invalid name ('a.test:80'); no port allowed)","fields":{"name":"Invalid name ('a.test:80'); no port allowed"}}`},
		{"name wrong type", "POST", "/upstreams", `{"name":5}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: expected a string)","fields":{"name":"expected a string"}}`},
		{"bad algorithm", "POST", "/upstreams", `{"name":"x","algorithm":"random"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (algorithm: expected one of: consistent-hashing, least-connections, round-robin, latency, sticky-sessions)","fields":{"algorithm":"expected one of: consistent-hashing, least-connections, round-robin, latency, sticky-sessions"}}`},
		{"bad header name", "POST", "/upstreams", `{"name":"x","hash_on":"header","hash_on_header":"a b"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (hash_on_header: bad header name 'a b', allowed characters are A-Z, a-z, 0-9, '_', and '-')","fields":{"hash_on_header":"bad header name 'a b', allowed characters are A-Z, a-z, 0-9, '_', and '-'"}}`},
		{"consumer twice", "POST", "/upstreams", `{"name":"x","hash_on":"consumer","hash_fallback":"consumer"}`, "", 400, `{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_fallback: expected one of: none, ip, header, cookie, path, query_arg, uri_capture)","fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}`},
		{"same header twice", "POST", "/upstreams", `{"name":"x","hash_on":"header","hash_on_header":"X","hash_fallback":"header","hash_fallback_header":"X"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header')","fields":{"@entity":["values of these fields must be distinct: 'hash_on_header', 'hash_fallback_header'"]}}`},
		{"nested range", "POST", "/upstreams", `{"name":"x","healthchecks":{"active":{"concurrency":0}}}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (healthchecks.active: {concurrency=\"value should be between 1 and 2147483648\"})","fields":{"healthchecks":{"active":{"concurrency":"value should be between 1 and 2147483648"}}}}`},
		{"nested unknown field", "PATCH", "/upstreams/u", `{"healthchecks":{"passive":{"interval":1}}}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (healthchecks.passive: {interval=\"unknown field\"})","fields":{"healthchecks":{"passive":{"interval":"unknown field"}}}}`},
		{"bad host_header", "PATCH", "/upstreams/u", `{"host_header":"ahostname-"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (host_header: invalid hostname: ahostname-)","fields":{"host_header":"invalid hostname: ahostname-"}}`},
		{"put by id without name", "PUT", "/upstreams/00000000-0000-4000-8000-000000000001", `{}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (name: required field missing)","fields":{"name":"required field missing"}}`},
		{"patch missing by id", "PATCH", "/upstreams/00000000-0000-4000-8000-000000000001", `{"slots":20}`, "", 404, `{"code":6,"name":"not found","message":"could not find the entity with primary key '{id=\"<id>\"}'","fields":{"id":"<id>"}}`},
		{"no content type", "POST", "/upstreams", []byte(`{"name":"x"}`), "", 415, ``},
		{"too many tags", "GET", "/upstreams?tags=a,b,c,d,e,f", nil, "", 400, `{"code":11,"name":"invalid options","message":"invalid option (tags: cannot query more than 5 tags)","options":{"tags":"cannot query more than 5 tags"}}`},
		{"offset not json", "GET", "/upstreams?offset=eHl6", nil, "", 400, `{"code":7,"name":"invalid offset","message":"'eHl6' is not a valid offset: bad json encoding"}`},
		{"target missing", "POST", "/upstreams/u/targets", `{"weight":1}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (target: required field missing)","fields":{"target":"required field missing"}}`},
		{"target port range", "POST", "/upstreams/u/targets", `{"target":"a.test:70000"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (target: Invalid target; not a valid hostname or ip address)","fields":{"target":"Invalid target; not a valid hostname or ip address"}}`},
		{"target unknown field", "POST", "/upstreams/u/targets", `{"target":"a.test","foo":1}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (foo: unknown field)","fields":{"foo":"unknown field"}}`},
		{"weight wrong type", "POST", "/upstreams/u/targets", `{"target":"a.test","weight":"heavy"}`, "", 400, `{"code":2,"name":"schema violation","message":"schema violation (weight: expected an integer)","fields":{"weight":"expected an integer"}}`},
		{"targets size not a number", "GET", "/upstreams/u/targets?size=x", nil, "", 400, `{"code":9,"name":"invalid size","message":"size must be a number"}`},
		{"target offset not a number", "GET", "/upstreams/u/targets?offset=x", nil, "", 400, `{"code":7,"name":"invalid offset","message":"'x' is not a valid offset: bad offset"}`},
		{"form wrong type", "POST", "/upstreams", []byte("name=x&healthchecks.active.https_verify_certificate=maybe"), "application/x-www-form-urlencoded", 400, `{"code":2,"name":"schema violation","message":"schema violation (healthchecks.active: {https_verify_certificate=\"expected a boolean\"})","fields":{"healthchecks":{"active":{"https_verify_certificate":"expected a boolean"}}}}`},
		{"multipart garbage", "POST", "/upstreams", []byte("--X\r\nnot a part"), "multipart/form-data; boundary=X", 400, `{"message":"Cannot parse multipart body"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			status, got, _ := e.do(tc.method, tc.path, tc.body, tc.ct)
			e.compare(tc.method+" "+tc.path, status, got, tc.status, tc.want)
		})
	}
	e.t = t
	req, _ := http.NewRequest("POST", e.base+"/upstreams", strings.NewReader(`{"name":"two-types"}`))
	req.Header.Add("Content-Type", "application/json")
	req.Header.Add("Content-Type", "application/x-www-form-urlencoded")
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	e.compare("two Content-Type headers", resp.StatusCode, got, 400, `{"message":"Multiple Content-Type headers not allowed"}`)
	if _, after, _ := e.do("GET", "/upstreams/u", nil); string(after) != string(before) {
		t.Fatalf("upstream changed by rejected requests:\n%s\n%s", before, after)
	}
	if _, after, _ := e.do("GET", "/upstreams/u/targets", nil); string(after) != string(beforeTargets) {
		t.Fatalf("targets changed by rejected requests")
	}
	if _, list, _ := e.do("GET", "/upstreams", nil); strings.Count(string(list), `"name"`) != 1 {
		t.Fatalf("rejected requests created upstreams: %s", list)
	}
}
