package admin_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// entityBody renders an answer with the placeholders normalize uses: the
// given defaults, overridden by extra ("k=v;k=v", v as JSON).
func entityBody(defaults map[string]string, extra string) string {
	fields := map[string]string{}
	for k, v := range defaults {
		fields[k] = v
	}
	for _, kv := range strings.Split(extra, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[k] = v
		}
	}
	var b strings.Builder
	b.WriteString(`{"id":"<id>","created_at":0,"updated_at":0`)
	for k, v := range fields {
		b.WriteString(`,"` + k + `":` + v)
	}
	b.WriteString("}")
	return b.String()
}

// serviceBody is Kong's service answer with defaults, overridden by extra.
func serviceBody(extra string) string {
	return entityBody(map[string]string{
		"name": "null", "retries": "5", "protocol": `"http"`, "host": `"backend.test"`, "port": "80", "path": "null",
		"connect_timeout": "60000", "write_timeout": "60000", "read_timeout": "60000", "tags": "null",
		"client_certificate": "null", "tls_verify": "null", "tls_verify_depth": "null", "ca_certificates": "null",
		"enabled": "true",
	}, extra)
}

// routeBody is Kong's route answer with defaults, overridden by extra.
func routeBody(extra string) string {
	return entityBody(map[string]string{
		"name": "null", "protocols": `["http","https"]`, "methods": "null", "hosts": "null", "paths": "null",
		"headers": "null", "https_redirect_status_code": "426", "regex_priority": "0", "strip_path": "true",
		"path_handling": `"v0"`, "preserve_host": "false", "request_buffering": "true", "response_buffering": "true",
		"snis": "null", "sources": "null", "destinations": "null", "tags": "null", "service": "null",
	}, extra)
}

const (
	svcID   = "5b1484f2-5209-49d9-b43e-92ba09dd9d52"
	routeID = "2c9a3a0a-8d5c-4f3e-9d1e-1b0a0c0d0e01"
)

// TestServiceAndRouteEndpointsWholeBodies walks every service and route
// endpoint in order, comparing status and the whole JSON answer.
func TestServiceAndRouteEndpointsWholeBodies(t *testing.T) {
	e := start(t)
	svc := serviceBody(`name="svc";tags=["t1"]`)
	svcRoute := `{"id":"<id>"}`
	r1 := routeBody(`name="r1";paths=["/api"];service=` + svcRoute)
	for _, s := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"empty list", "GET", "/services", nil, 200, `{"data":[],"next":null}`},
		{"create by url", "POST", "/services", `{"name":"svc","url":"http://backend.test","tags":["t1"]}`, 201, svc},
		{"get by name", "GET", "/services/svc", nil, 200, svc},
		{"list by tag", "GET", "/services?tags=t1", nil, 200, `{"data":[` + svc + `],"next":null}`},
		{"list by absent tag", "GET", "/services?tags=zz", nil, 200, `{"data":[],"next":null}`},
		{"nested create", "POST", "/services/svc/routes", `{"name":"r1","paths":["/api"]}`, 201, r1},
		{"nested list", "GET", "/services/svc/routes", nil, 200, `{"data":[` + r1 + `],"next":null}`},
		{"nested get", "GET", "/services/svc/routes/r1", nil, 200, r1},
		{"route get", "GET", "/routes/r1", nil, 200, r1},
		{"route's service", "GET", "/routes/r1/service", nil, 200, svc},
		{"patch route's service", "PATCH", "/routes/r1/service", `{"retries":1}`, 200, serviceBody(`name="svc";tags=["t1"];retries=1`)},
		{"route by form, service by name", "POST", "/routes", []byte("name=r2&hosts[]=a.test&methods=GET&service.name=svc"), 201,
			routeBody(`name="r2";hosts=["a.test"];methods=["GET"];service=` + svcRoute)},
		{"route without service", "POST", "/routes", `{"name":"lone","headers":{"x-a":["1","2"]}}`, 201, routeBody(`name="lone";headers={"x-a":["1","2"]}`)},
		{"lone has no service", "GET", "/routes/lone/service", nil, 404, `{"message":"Not found"}`},
		{"lone is not svc's", "GET", "/services/svc/routes/lone", nil, 404, `{"message":"Not found"}`},
		{"put under svc adopts lone's id? no: 404", "PUT", "/services/svc/routes/lone", `{"paths":["/x"]}`, 404, `{"message":"Not found"}`},
		{"put route by id", "PUT", "/routes/" + routeID, `{"paths":["/p"],"service":{"id":"` + svcID + `"}}`, 400,
			`{"code":4,"name":"foreign key violation","message":"the foreign key '{id=\"<id>\"}' does not reference an existing 'services' entity.","fields":{"service":{"id":"<id>"}}}`},
		{"put service by id", "PUT", "/services/" + svcID, `{"name":"svc2","host":"b2.test","port":9000}`, 200, serviceBody(`name="svc2";host="b2.test";port=9000`)},
		{"put route by id now", "PUT", "/routes/" + routeID, `{"paths":["/p"],"service":{"id":"` + svcID + `"}}`, 200, routeBody(`paths=["/p"];service=` + svcRoute)},
		{"nested list by id", "GET", "/services/" + svcID + "/routes", nil, 200, `{"data":[` + routeBody(`paths=["/p"];service=`+svcRoute) + `],"next":null}`},
		{"patch route", "PATCH", "/routes/" + routeID, `{"strip_path":false,"regex_priority":7,"paths":["~/p/(?<n>\\d+)$"]}`, 200,
			routeBody(`paths=["~/p/(?<n>\\d+)$"];strip_path=false;regex_priority=7;service=` + svcRoute)},
		{"nested patch", "PATCH", "/services/svc2/routes/" + routeID, `{"name":"r3"}`, 200,
			routeBody(`name="r3";paths=["~/p/(?<n>\\d+)$"];strip_path=false;regex_priority=7;service=` + svcRoute)},
		{"put nested creates", "PUT", "/services/svc2/routes/r4", `{"methods":["POST"]}`, 200, routeBody(`name="r4";methods=["POST"];service=` + svcRoute)},
		{"routes page 1", "GET", "/routes?size=2", nil, 200, ""},
		{"delete referenced service", "DELETE", "/services/svc2", nil, 400,
			`{"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}}`},
		{"nested delete", "DELETE", "/services/svc2/routes/r4", nil, 204, ""},
		{"nested delete again", "DELETE", "/services/svc2/routes/r4", nil, 204, ""},
		{"delete route", "DELETE", "/routes/r3", nil, 204, ""},
		{"delete service", "DELETE", "/services/svc2", nil, 204, ""},
		{"deleted", "GET", "/services/svc2", nil, 404, `{"message":"Not found"}`},
		{"collection PUT", "PUT", "/services", `{}`, 405, `{"message":"Method not allowed"}`},
		{"absent plugins", "GET", "/plugins?size=1000", nil, 200, `{"data":[],"next":null}`},
		{"absent consumers", "GET", "/consumers?size=1000&tags=a", nil, 200, `{"data":[],"next":null}`},
		{"absent certificates", "GET", "/certificates", nil, 200, `{"data":[],"next":null}`},
		{"absent ca_certificates", "GET", "/ca_certificates", nil, 200, `{"data":[],"next":null}`},
		{"absent snis", "GET", "/snis", nil, 200, `{"data":[],"next":null}`},
		{"absent bad size", "GET", "/plugins?size=0", nil, 400, `{"code":9,"name":"invalid size","message":"size must be an integer between 1 and 1000"}`},
		{"no plugin writes", "POST", "/plugins", `{"name":"key-auth"}`, 405, `{"code":12,"name":"operation unsupported","message":"this gateway has no plugins (it serves Kong's services, routes, upstreams and targets): Caddy handler directives placed before kong_proxy or reverse_proxy do plugins' jobs (basic_auth or forward_auth for authentication, header and request_header for transformations, log, metrics, request_body, respond)"}`},
		{"consumer groups are enterprise", "GET", "/consumer_groups", nil, 404, `{"message":"Not found"}`},
	} {
		t.Run(s.name, func(t *testing.T) {
			e.t = t
			if s.want == "" && s.status == 200 {
				status, got, _ := e.do(s.method, s.path, s.body)
				var page struct {
					Data []any
					Next string
				}
				if status != 200 || json.Unmarshal(got, &page) != nil || len(page.Data) != 2 || !strings.HasPrefix(page.Next, "/routes?offset=") || !strings.HasSuffix(page.Next, "&size=2") {
					t.Fatalf("page: %d %s", status, got)
				}
				return
			}
			ct := ""
			if _, form := s.body.([]byte); form {
				ct = "application/x-www-form-urlencoded"
			}
			status, got, _ := e.do(s.method, s.path, s.body, ct)
			e.compare(s.method+" "+s.path, status, got, s.status, s.want)
		})
	}
}

// TestServiceRouteBadInputChangesNothing sends bad input to every write
// endpoint and checks the Kong error and that the state is unchanged.
func TestServiceRouteBadInputChangesNothing(t *testing.T) {
	e := start(t)
	e.expect("POST", "/services", `{"name":"s","host":"backend.test"}`, 201, serviceBody(`name="s"`))
	e.expect("POST", "/services/s/routes", `{"name":"r","paths":["/"]}`, 201, routeBody(`name="r";paths=["/"];service={"id":"<id>"}`))
	snapshot := func() string {
		_, a, _ := e.do("GET", "/services", nil)
		_, b, _ := e.do("GET", "/routes", nil)
		return string(a) + string(b)
	}
	before := snapshot()
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"duplicate service name", "POST", "/services", `{"name":"s","host":"h.test"}`, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"s\"}'","fields":{"name":"s"}}`},
		{"duplicate route name", "POST", "/routes", `{"name":"r","paths":["/x"]}`, 409, `{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"r\"}'","fields":{"name":"r"}}`},
		{"service host with port", "PATCH", "/services/s", `{"host":"h.test:81"}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (host: must not have a port)","fields":{"host":"must not have a port"}}`},
		{"timeout zero", "PATCH", "/services/s", `{"read_timeout":0}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (read_timeout: value should be between 1 and 2147483646)","fields":{"read_timeout":"value should be between 1 and 2147483646"}}`},
		{"invalid service key", "GET", "/services/a%20b", "", 400, `{"code":10,"name":"invalid unique name","message":"invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"}`},
		{"patch missing service", "PATCH", "/services/nope", `{"port":1}`, 404, `{"code":6,"name":"not found","message":"could not find the entity with '{name=\"nope\"}'","fields":{"name":"nope"}}`},
		{"route loses its matchers", "PATCH", "/routes/r", `{"paths":null}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https')","fields":{"@entity":["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]}}`},
		{"mixed protocols", "PATCH", "/routes/r", `{"protocols":["http","tcp"]}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (protocols: these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), ('tls_passthrough'), ('grpc', 'grpcs'))","fields":{"protocols":"these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp'), ('tls_passthrough'), ('grpc', 'grpcs')"}}`},
		{"route to unknown service", "PATCH", "/routes/r", `{"service":{"id":"` + svcID + `"}}`, 400, `{"code":4,"name":"foreign key violation","message":"the foreign key '{id=\"<id>\"}' does not reference an existing 'services' entity.","fields":{"service":{"id":"<id>"}}}`},
		{"route to unknown service name", "POST", "/routes", `{"paths":["/y"],"service":{"name":"nope"}}`, 400, `{"code":13,"name":"foreign keys unresolved","message":"foreign key unresolved (service.name: the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity)","fields":{"service":{"name":"the foreign key cannot be resolved with '{name=\"nope\"}' for an existing 'services' entity"}}}`},
		{"nested create under missing service", "POST", "/services/nope/routes", `{"paths":["/"]}`, 404, `{"message":"Not found"}`},
		{"bad path", "POST", "/routes", `{"paths":["/a//b"]}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (paths.1: must not have empty segments)","fields":{"paths":["must not have empty segments"]}}`},
		{"unknown route field", "POST", "/routes", `{"paths":["/"],"expression":"x"}`, 400, `{"code":2,"name":"schema violation","message":"schema violation (expression: unknown field)","fields":{"expression":"unknown field"}}`},
		{"delete referenced", "DELETE", "/services/s", "", 400, `{"code":4,"name":"foreign key violation","message":"an existing 'routes' entity references this 'services' entity","fields":{"@referenced_by":"routes"}}`},
		{"routes bad offset", "GET", "/routes?offset=eHl6", "", 400, `{"code":7,"name":"invalid offset","message":"'eHl6' is not a valid offset: bad json encoding"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			var body any
			if tc.body != "" {
				body = tc.body
			}
			e.expect(tc.method, tc.path, body, tc.status, tc.want)
		})
	}
	e.t = t
	if after := snapshot(); after != before {
		t.Fatalf("rejected requests changed the state:\n%s\n%s", before, after)
	}
}

// TestServiceRouteSchemaDefaults fills entities from GET /schemas/{services,
// routes} as decK does and checks they equal what POST creates.
func TestServiceRouteSchemaDefaults(t *testing.T) {
	e := start(t)
	for _, tc := range []struct{ entity, body string }{
		{"services", `{"name":"from-schema","host":"backend.test"}`},
		{"routes", `{"name":"from-schema","paths":["/"]}`},
	} {
		_, raw, _ := e.do("GET", "/schemas/"+tc.entity, nil)
		var desc struct{ Fields []map[string]map[string]any }
		if err := json.Unmarshal(raw, &desc); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		var filled map[string]any
		json.Unmarshal([]byte(tc.body), &filled)
		fillDefaults(filled, desc.Fields)
		_, out, _ := e.do("POST", "/"+tc.entity, tc.body)
		var created map[string]any
		json.Unmarshal(out, &created)
		for _, k := range []string{"id", "created_at", "updated_at"} {
			delete(created, k)
		}
		if !reflect.DeepEqual(filled, created) {
			fb, _ := json.Marshal(filled)
			t.Fatalf("%s: schema defaults\n%s\ndiffer from the created entity\n%s", tc.entity, fb, out)
		}
	}
}

// TestRoutePagesAndTags walks /routes and /services/{s}/routes page by
// page: every route once, in id order; tags filter top-level lists only;
// nested next links carry no size, as Kong's.
func TestRoutePagesAndTags(t *testing.T) {
	e := start(t)
	e.expect("POST", "/services", `{"name":"s","host":"h.test"}`, 201, serviceBody(`name="s";host="h.test"`))
	for i := 0; i < 25; i++ {
		tag := "odd"
		if i%2 == 0 {
			tag = "even"
		}
		status, body, _ := e.do("POST", "/services/s/routes", fmt.Sprintf(`{"paths":["/p%d"],"tags":["%s"]}`, i, tag))
		if status != 201 {
			t.Fatalf("%d %s", status, body)
		}
	}
	walk := func(first string) (ids []string, nexts []string) {
		next := first
		for i := 0; next != "" && i < 10; i++ {
			status, body, _ := e.do("GET", next, nil)
			var page struct {
				Data []map[string]any
				Next *string
			}
			if status != 200 || json.Unmarshal(body, &page) != nil {
				t.Fatalf("GET %s: %d %s", next, status, body)
			}
			for _, r := range page.Data {
				ids = append(ids, r["id"].(string))
			}
			next = ""
			if page.Next != nil {
				next = *page.Next
				nexts = append(nexts, next)
			}
		}
		return ids, nexts
	}
	all, nexts := walk("/routes?size=10")
	if len(all) != 25 || len(nexts) != 2 || !sort.StringsAreSorted(all) || !strings.HasSuffix(nexts[0], "&size=10") {
		t.Fatalf("/routes pages: %d routes, next links %v", len(all), nexts)
	}
	nested, nexts := walk("/services/s/routes?size=10")
	// the next link drops size, so the second page has the default size
	if !reflect.DeepEqual(nested, all) || len(nexts) != 1 || strings.Contains(nexts[0], "size=") || !strings.HasPrefix(nexts[0], "/services/s/routes?offset=") {
		t.Fatalf("nested pages: %d routes, next links %v", len(nested), nexts)
	}
	even, _ := walk("/routes?tags=even&size=5")
	if len(even) != 13 {
		t.Fatalf("tags=even: %d routes, want 13", len(even))
	}
	if either, _ := walk("/routes?tags=even/odd"); len(either) != 25 {
		t.Fatalf("tags=even/odd: %d routes", len(either))
	}
	if nestedTagged, _ := walk("/services/s/routes?tags=even"); len(nestedTagged) != 25 {
		t.Fatalf("a nested list must ignore tags: %d routes", len(nestedTagged))
	}
}
