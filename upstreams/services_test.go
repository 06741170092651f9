package upstreams_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// kongDefaultService is Kong 3.x's answer to POST {"host":"example.com"},
// ids and timestamps aside.
const kongDefaultService = `{
  "name": null, "retries": 5, "protocol": "http", "host": "example.com", "port": 80, "path": null,
  "connect_timeout": 60000, "write_timeout": 60000, "read_timeout": 60000, "tags": null,
  "client_certificate": null, "tls_verify": null, "tls_verify_depth": null, "ca_certificates": null,
  "enabled": true
}`

// kongDefaultRoute is Kong 3.x's answer to POST {"paths":["/api"]}.
const kongDefaultRoute = `{
  "name": null, "protocols": ["http","https"], "methods": null, "hosts": null, "paths": ["/api"],
  "headers": null, "https_redirect_status_code": 426, "regex_priority": 0, "strip_path": true,
  "path_handling": "v0", "preserve_host": false, "request_buffering": true, "response_buffering": true,
  "snis": null, "sources": null, "destinations": null, "tags": null, "service": null
}`

func withoutAuto(t *testing.T, v any) map[string]any {
	t.Helper()
	m := upstreams.EntityMap(v)
	if !schema.IsUUID(m["id"].(string)) || m["created_at"].(float64) < 1.7e9 || m["updated_at"] != m["created_at"] {
		t.Fatalf("auto fields: id=%v created_at=%v updated_at=%v", m["id"], m["created_at"], m["updated_at"])
	}
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(m, k)
	}
	return m
}

func assertJSON(t *testing.T, got map[string]any, want string) {
	t.Helper()
	if !reflect.DeepEqual(got, decode(t, want)) {
		gb, _ := json.Marshal(got)
		t.Fatalf("entity differs from Kong's:\n got %s\nwant %s", gb, want)
	}
}

func TestServiceAndRouteDefaults(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	s, err := reg.CreateService(ctx, map[string]any{"host": "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, withoutAuto(t, s), kongDefaultService)
	rt, err := reg.CreateRoute(ctx, map[string]any{"paths": []any{"/api"}})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, withoutAuto(t, rt), kongDefaultRoute)
	grpc, err := reg.CreateRoute(ctx, decode(t, `{"protocols":["grpc"],"paths":["/g"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if grpc.StripPath {
		t.Fatal("a grpc route defaults to strip_path true; Kong's grpc subschema defaults it to false")
	}
}

func TestServiceURLShorthand(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct {
		url, protocol, host, path string
		port                      int
	}{
		{"http://example.com", "http", "example.com", "", 80},
		{"https://example.com/a/b", "https", "example.com", "/a/b", 443},
		{"http://10.0.0.1:9001/x", "http", "10.0.0.1", "/x", 9001},
		{"grpc://svc.internal:50051", "grpc", "svc.internal", "", 50051},
	} {
		s, err := reg.CreateService(ctx, map[string]any{"url": tc.url})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		path := ""
		if s.Path != nil {
			path = *s.Path
		}
		if s.Protocol != tc.protocol || s.Host != tc.host || s.Port != tc.port || path != tc.path {
			t.Fatalf("%s: got %s://%s:%d path %q", tc.url, s.Protocol, s.Host, s.Port, path)
		}
	}
}

func TestServiceAndRouteValidationMessages(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		route bool
		in    string
		want  string
	}{
		{"service without host", false, `{}`,
			`{"code":2,"name":"schema violation","message":"schema violation (host: required field missing)","fields":{"host":"required field missing"}}`},
		{"service host with port", false, `{"host":"example.com:80"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (host: must not have a port)","fields":{"host":"must not have a port"}}`},
		{"service bad protocol", false, `{"host":"h","protocol":"ftp"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (protocol: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp)","fields":{"protocol":"expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"}}`},
		{"service port range", false, `{"host":"h","port":65536}`,
			`{"code":2,"name":"schema violation","message":"schema violation (port: value should be between 0 and 65535)","fields":{"port":"value should be between 0 and 65535"}}`},
		{"service path", false, `{"host":"h","path":"x"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (path: should start with: /)","fields":{"path":"should start with: /"}}`},
		{"service name", false, `{"host":"h","name":"a b"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (name: invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~)","fields":{"name":"invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}}`},
		{"tls_verify on http", false, `{"host":"h","tls_verify":true}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'protocol'; tls_verify: value must be null)","fields":{"@entity":["failed conditional validation given value of field 'protocol'"],"tls_verify":"value must be null"}}`},
		{"path on tcp", false, `{"host":"h","protocol":"tcp","path":"/x"}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'protocol'; path: value must be null)","fields":{"@entity":["failed conditional validation given value of field 'protocol'"],"path":"value must be null"}}`},
		{"route matches nothing", true, `{}`,
			`{"code":2,"name":"schema violation","message":"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')","fields":{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}}`},
		{"http route matches nothing", true, `{"protocols":["http"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http')","fields":{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'"]}}`},
		{"path without slash", true, `{"paths":["api"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (paths.1: should start with: / (fixed path) or ~/ (regex path))","fields":{"paths":["should start with: / (fixed path) or ~/ (regex path)"]}}`},
		{"non-normalized path", true, `{"paths":["/a/../b"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (paths.1: non-normalized path, consider use '/b' instead)","fields":{"paths":["non-normalized path, consider use '/b' instead"]}}`},
		{"bad regex", true, `{"paths":["~/a(b"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (paths.1: invalid regex: '/a(b' (PCRE returned: error parsing regexp: missing closing ): ` + "`/a(b`" + `))","fields":{"paths":["invalid regex: '/a(b' (PCRE returned: error parsing regexp: missing closing ): ` + "`/a(b`" + `)"]}}`},
		{"lower-case method", true, `{"methods":["get"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (methods.1: invalid value: get)","fields":{"methods":["invalid value: get"]}}`},
		{"two wildcards", true, `{"hosts":["*.a.*"]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (hosts.1: invalid wildcard: must have at most one wildcard)","fields":{"hosts":["invalid wildcard: must have at most one wildcard"]}}`},
		{"host header", true, `{"headers":{"Host":["x"]}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (headers.Host: cannot contain 'host' header, which must be specified in the 'hosts' attribute)","fields":{"headers":{"Host":"cannot contain 'host' header, which must be specified in the 'hosts' attribute"}}}`},
		{"redirect code", true, `{"paths":["/"],"https_redirect_status_code":303}`,
			`{"code":2,"name":"schema violation","message":"schema violation (https_redirect_status_code: expected one of: 426, 301, 302, 307, 308)","fields":{"https_redirect_status_code":"expected one of: 426, 301, 302, 307, 308"}}`},
		{"path_handling", true, `{"paths":["/"],"path_handling":"v2"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (path_handling: expected one of: v0, v1)","fields":{"path_handling":"expected one of: v0, v1"}}`},
		{"sources on http", true, `{"paths":["/"],"sources":[{"ip":"10.0.0.0/8"}]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (sources: cannot set 'sources' when 'protocols' is 'http' or 'https')","fields":{"sources":"cannot set 'sources' when 'protocols' is 'http' or 'https'"}}`},
		{"strip_path on grpc", true, `{"protocols":["grpc"],"paths":["/"],"strip_path":true}`,
			`{"code":2,"name":"schema violation","message":"schema violation (strip_path: cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs')","fields":{"strip_path":"cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"}}`},
		{"snis on http", true, `{"protocols":["http"],"paths":["/"],"snis":["a.test"]}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'protocols'; snis: 'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls', 'tls_passthrough', or 'wss')","fields":{"@entity":["failed conditional validation given value of field 'protocols'"],"snis":"'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls', 'tls_passthrough', or 'wss'"}}`},
		{"tcp source without ip or port", true, `{"protocols":["tcp"],"sources":[{}]}`,
			`{"code":2,"name":"schema violation","message":"schema violation (sources.1: {[\"@entity\"]={\"at least one of these fields must be non-empty: 'ip', 'port'\"}})","fields":{"sources":[{"@entity":["at least one of these fields must be non-empty: 'ip', 'port'"]}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.route {
				_, err = reg.CreateRoute(ctx, decode(t, tc.in))
			} else {
				_, err = reg.CreateService(ctx, decode(t, tc.in))
			}
			var kerr *schema.Error
			if !errors.As(err, &kerr) || kerr.Status != 400 {
				t.Fatalf("err = %v, want a 400 schema.Error", err)
			}
			got, _ := json.Marshal(kerr)
			if !reflect.DeepEqual(decode(t, string(got)), decode(t, tc.want)) {
				t.Fatalf("body\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if g := reg.Gateway(); len(g.Services) != 0 || len(g.Routes) != 0 {
		t.Fatalf("rejected writes left %d services and %d routes behind", len(g.Services), len(g.Routes))
	}
}

func kongErr(t *testing.T, err error) *schema.Error {
	t.Helper()
	var kerr *schema.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("err = %v, want a schema.Error", err)
	}
	return kerr
}

func TestRouteServiceReferences(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	missing := "8a7f5d32-0000-4000-8000-000000000001"
	_, err := reg.CreateRoute(ctx, decode(t, `{"paths":["/"],"service":{"id":"`+missing+`"}}`))
	if e := kongErr(t, err); e.Code != schema.CodeForeignKeyViolation || e.Status != 400 ||
		e.Message != `the foreign key '{id="`+missing+`"}' does not reference an existing 'services' entity.` {
		t.Fatalf("route to a missing service: %d %d %q", e.Status, e.Code, e.Message)
	}
	_, err = reg.CreateRoute(ctx, decode(t, `{"paths":["/"],"service":{"name":"nope"}}`))
	if e := kongErr(t, err); e.Code != schema.CodeForeignKeysUnresolved || e.Status != 400 {
		t.Fatalf("route to an unknown service name: %d %d %q", e.Status, e.Code, e.Message)
	}

	s, err := reg.CreateService(ctx, decode(t, `{"name":"svc","host":"backend.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := reg.CreateRoute(ctx, decode(t, `{"name":"r","paths":["/"],"service":{"name":"svc"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rt.ServiceID() != s.ID {
		t.Fatalf("service by name resolved to %q, want %q", rt.ServiceID(), s.ID)
	}
	err = reg.DeleteService(ctx, "svc")
	if e := kongErr(t, err); e.Code != schema.CodeForeignKeyViolation || e.Status != 400 ||
		e.Message != "an existing 'routes' entity references this 'services' entity" {
		t.Fatalf("delete of a referenced service: %d %d %q", e.Status, e.Code, e.Message)
	}
	if _, ok := reg.Service("svc"); !ok {
		t.Fatal("the refused delete removed the service")
	}
	if err := reg.DeleteRoute(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteService(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Service("svc"); ok {
		t.Fatal("service still there after delete")
	}
}

func TestServiceUpsertAndPatch(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	id := "8a7f5d32-0000-4000-8000-000000000002"
	s, err := reg.UpsertService(ctx, id, decode(t, `{"name":"a","host":"h1.test","retries":2}`))
	if err != nil || s.ID != id {
		t.Fatalf("PUT by id: %v %+v", err, s)
	}
	s, err = reg.UpsertService(ctx, "a", decode(t, `{"host":"h2.test"}`))
	if err != nil || s.ID != id || s.Retries != upstreams.DefaultServiceRetries || s.Host != "h2.test" {
		t.Fatalf("PUT by name keeps the id and resets omitted fields: %v %+v", err, s)
	}
	s, err = reg.UpdateService(ctx, "a", decode(t, `{"port":8080,"name":"b"}`))
	if err != nil || s.Port != 8080 || s.Host != "h2.test" || s.NameOrEmpty() != "b" {
		t.Fatalf("PATCH merges: %v %+v", err, s)
	}
	if _, ok := reg.Service("a"); ok {
		t.Fatal("old name still resolves after rename")
	}
	if _, err := reg.CreateService(ctx, decode(t, `{"name":"b","host":"x.test"}`)); kongErr(t, err).Status != 409 {
		t.Fatalf("duplicate name: %v", err)
	}
	_, err = reg.UpdateService(ctx, "nope", decode(t, `{"port":1}`))
	if e := kongErr(t, err); e.Status != 404 || e.Code != schema.CodeNotFound {
		t.Fatalf("PATCH of a missing service: %+v", e)
	}
}

func TestGatewaySnapshotPublishedOnEveryChange(t *testing.T) {
	dir := t.TempDir()
	open := func() *upstreams.Registry {
		store := new(boltstore.Store)
		if err := store.Open(filepath.Join(dir, "r.db")); err != nil {
			t.Fatal(err)
		}
		reg, err := upstreams.NewRegistry(context.Background(), store, nil)
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	reg := open()
	ctx := context.Background()
	g0 := reg.Gateway()
	if g0 == nil || len(g0.Services) != 0 || len(g0.Routes) != 0 {
		t.Fatalf("empty registry gateway: %+v", g0)
	}
	s, err := reg.CreateService(ctx, decode(t, `{"name":"svc","host":"backend.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g0.Superseded():
	default:
		t.Fatal("the previous snapshot was not marked superseded")
	}
	g1 := reg.Gateway()
	if g1.Version <= g0.Version || g1.Services[s.ID] == nil {
		t.Fatalf("snapshot after service create: version %d -> %d, services %v", g0.Version, g1.Version, g1.Services)
	}
	for _, p := range []string{"/b", "/a"} {
		if _, err := reg.CreateRoute(ctx, decode(t, `{"paths":["`+p+`"],"service":{"id":"`+s.ID+`"}}`)); err != nil {
			t.Fatal(err)
		}
	}
	g2 := reg.Gateway()
	if len(g2.Routes) != 2 || g2.Service(g2.Routes[0]) != g2.Services[s.ID] {
		t.Fatalf("routes in snapshot: %+v", g2.Routes)
	}
	if len(g1.Routes) != 0 {
		t.Fatal("an older snapshot changed after publication")
	}
	reg.Close()

	// the store keeps services and routes across restarts
	reg = open()
	defer reg.Close()
	g := reg.Gateway()
	if len(g.Services) != 1 || len(g.Routes) != 2 || g.Service(g.Routes[1]) == nil {
		t.Fatalf("after reopen: %d services, %d routes", len(g.Services), len(g.Routes))
	}
	page, more := reg.RoutesAfter("", 1, nil)
	if len(page) != 1 || !more {
		t.Fatalf("RoutesAfter first page: %d routes, more=%v", len(page), more)
	}
}
