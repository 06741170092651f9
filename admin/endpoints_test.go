package admin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// target renders a target answer with the placeholders normalize uses.
func target(addr string, weight string, tags string) string {
	return `{"id":"<id>","created_at":0,"updated_at":0,"upstream":{"id":"<id>"},"target":"` + addr + `","weight":` + weight + `,"tags":` + tags + `}`
}

// Client-chosen target ids (decK sends its own): creation order and id
// order differ, so /targets (newest first) and /targets/all (by id) differ.
const (
	idA = "cccccccc-0000-4000-8000-000000000001" // 10.0.0.1, created first, sorts last
	idB = "bbbbbbbb-0000-4000-8000-000000000002" // [::1]:81
	idC = "aaaaaaaa-0000-4000-8000-000000000003" // 10.0.0.2:80, created last, sorts first
)

const ipv6 = "[0000:0000:0000:0000:0000:0000:0000:0001]:81"

// TestEveryEndpointWholeBodies walks every upstream and target endpoint in
// order, comparing status and the whole JSON answer (ids and timestamps
// replaced by placeholders).
func TestEveryEndpointWholeBodies(t *testing.T) {
	e := start(t)
	svc := upstreamBody("svc", `tags=["t1"]`)
	ta, tb, tc := target("10.0.0.1:8000", "100", "null"), target(ipv6, "5", `["x","y"]`), target("10.0.0.2:80", "100", "null")
	addrOff := func(ip string, port, weight string) string {
		return `{"ip":"` + ip + `","port":` + port + `,"weight":` + weight + `,"health":"HEALTHCHECKS_OFF"}`
	}
	healthData := func(host, port, dns, weight string) string {
		return `"health":"HEALTHCHECKS_OFF","data":{"host":"` + host + `","port":` + port + `,"dns":"` + dns + `","nodeWeight":` + weight +
			`,"weight":{"total":` + weight + `,"available":` + weight + `,"unavailable":0},"addresses":[` + addrOff(host, port, weight) + `]}}`
	}
	withHealth := func(body, health string) string { return strings.TrimSuffix(body, "}") + "," + health }

	for _, s := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"create upstream", "POST", "/upstreams", `{"name":"svc","tags":["t1"]}`, 201, svc},
		{"list, trailing slash", "GET", "/upstreams/", nil, 200, `{"data":[` + svc + `],"next":null}`},
		{"list by tag", "GET", "/upstreams?tags=t1", nil, 200, `{"data":[` + svc + `],"next":null}`},
		{"list by any tag", "GET", "/upstreams?tags=zz/t1", nil, 200, `{"data":[` + svc + `],"next":null}`},
		{"list by absent tags", "GET", "/upstreams?tags=t1,zz", nil, 200, `{"data":[],"next":null}`},
		{"get by name", "GET", "/upstreams/svc", nil, 200, svc},
		{"empty targets", "GET", "/upstreams/svc/targets", nil, 200, `{"data":[],"next":null}`},
		{"empty targets/all", "GET", "/upstreams/svc/targets/all", nil, 200, `{"data":[],"next":null}`},
		{"target default port", "POST", "/upstreams/svc/targets", `{"id":"` + idA + `","target":"10.0.0.1"}`, 201, ta},
		{"target ipv6 expanded", "POST", "/upstreams/svc/targets", `{"id":"` + idB + `","target":"[::1]:81","weight":5,"tags":["x","y"]}`, 201, tb},
		{"target upstream from url", "POST", "/upstreams/svc/targets", `{"id":"` + idC + `","target":"10.0.0.2:80","upstream":{"id":"00000000-0000-4000-8000-000000000000"}}`, 201, tc},
		{"targets newest first", "GET", "/upstreams/svc/targets", nil, 200, `{"data":[` + tc + `,` + tb + `,` + ta + `],"next":null}`},
		{"targets page 1", "GET", "/upstreams/svc/targets?size=2", nil, 200, `{"data":[` + tc + `,` + tb + `],"offset":"2","next":"/upstreams/svc/targets?offset=2"}`},
		{"targets page 2", "GET", "/upstreams/svc/targets?offset=2&size=2", nil, 200, `{"data":[` + ta + `],"next":null}`},
		{"targets tags ignored", "GET", "/upstreams/svc/targets?tags=nothing", nil, 200, `{"data":[` + tc + `,` + tb + `,` + ta + `],"next":null}`},
		{"targets/all by id", "GET", "/upstreams/svc/targets/all", nil, 200, `{"data":[` + tc + `,` + tb + `,` + ta + `],"next":null}`},
		{"target by address", "GET", "/upstreams/svc/targets/10.0.0.1:8000", nil, 200, ta},
		{"target by id", "GET", "/upstreams/svc/targets/" + idB, nil, 200, tb},
		{"target address verbatim", "GET", "/upstreams/svc/targets/10.0.0.1", nil, 404, `{"message":"Not found"}`},
		{"target of other upstream", "GET", "/upstreams/nope/targets/" + idB, nil, 404, `{"message":"Not found"}`},
		{"health list", "GET", "/upstreams/svc/health", nil, 200, `{"data":[` +
			withHealth(tc, healthData("10.0.0.2", "80", "A", "100")) + `,` +
			withHealth(tb, healthData("0000:0000:0000:0000:0000:0000:0000:0001", "81", "AAAA", "5")) + `,` +
			withHealth(ta, healthData("10.0.0.1", "8000", "A", "100")) + `],"next":null,"node_id":"<id>"}`},
		{"health page", "GET", "/upstreams/svc/health?size=1&offset=2", nil, 200, `{"data":[` +
			withHealth(ta, healthData("10.0.0.1", "8000", "A", "100")) + `],"next":null,"node_id":"<id>"}`},
		{"balancer health", "GET", "/upstreams/svc/health?balancer_health=1", nil, 200, `{"data":{"id":"<id>","health":"HEALTHCHECKS_OFF","balancer_health":"HEALTHY","details":{"healthy":true,` +
			`"weight":{"total":205,"available":205,"unavailable":0},"hosts":[` +
			`{"host":"10.0.0.1","port":8000,"dns":"A","nodeWeight":100,"weight":{"total":100,"available":100,"unavailable":0},"addresses":[{"ip":"10.0.0.1","port":8000,"weight":100,"healthy":true}]},` +
			`{"host":"0000:0000:0000:0000:0000:0000:0000:0001","port":81,"dns":"AAAA","nodeWeight":5,"weight":{"total":5,"available":5,"unavailable":0},"addresses":[{"ip":"0000:0000:0000:0000:0000:0000:0000:0001","port":81,"weight":5,"healthy":true}]},` +
			`{"host":"10.0.0.2","port":80,"dns":"A","nodeWeight":100,"weight":{"total":100,"available":100,"unavailable":0},"addresses":[{"ip":"10.0.0.2","port":80,"weight":100,"healthy":true}]}` +
			`]}},"next":null,"node_id":"<id>"}`},
		{"health unknown upstream", "GET", "/upstreams/nope/health", nil, 404, `{"message":"Not found"}`},
		{"manual health, checks off", "PUT", "/upstreams/svc/targets/10.0.0.1:8000/healthy", nil, 400, `{"message":"no healthchecker found for svc"}`},
		{"manual address health, checks off", "PUT", "/upstreams/svc/targets/10.0.0.1:8000/10.0.0.1:8000/unhealthy", nil, 400, `{"message":"no healthchecker found for svc"}`},
		{"manual health, unknown target", "PUT", "/upstreams/svc/targets/10.9.9.9:1/healthy", nil, 404, `{"message":"Not found"}`},
		{"patch target weight 0", "PATCH", "/upstreams/svc/targets/10.0.0.1:8000", `{"weight":0}`, 200, target("10.0.0.1:8000", "0", "null")},
		{"weight 0 still listed", "GET", "/upstreams/svc/targets/" + idA, nil, 200, target("10.0.0.1:8000", "0", "null")},
		{"put target is a partial update", "PUT", "/upstreams/svc/targets/" + idA, `{"target":"10.0.0.3:80"}`, 200, target("10.0.0.3:80", "0", "null")},
		{"old address gone", "GET", "/upstreams/svc/targets/10.0.0.1:8000", nil, 404, `{"message":"Not found"}`},
		{"update onto another target", "PATCH", "/upstreams/svc/targets/" + idA, `{"target":"10.0.0.2:80"}`, 409,
			`{"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{target=\"10.0.0.2:80\",upstream={id=\"<id>\"}}'","fields":{"target":"10.0.0.2:80","upstream":{"id":"<id>"}}}`},
		{"targets collection PUT", "PUT", "/upstreams/svc/targets", `{}`, 405, `{"message":"Method not allowed"}`},
		{"targets collection DELETE", "DELETE", "/upstreams/svc/targets", nil, 405, `{"message":"Method not allowed"}`},
		{"health POST", "POST", "/upstreams/svc/health", nil, 405, `{"message":"Method not allowed"}`},
		{"delete target", "DELETE", "/upstreams/svc/targets/10.0.0.3:80", nil, 204, ""},
		{"delete target again", "DELETE", "/upstreams/svc/targets/10.0.0.3:80", nil, 404, `{"message":"Not found"}`},
		{"patch upstream merges healthchecks", "PATCH", "/upstreams/svc", `{"healthchecks":{"active":{"healthy":{"interval":5}}},"tags":null}`, 200,
			upstreamBody("svc", `healthchecks=`+strings.Replace(defaultHealthchecks, `"healthy":{"interval":0`, `"healthy":{"interval":5`, 1))},
		{"put upstream replaces", "PUT", "/upstreams/svc", `{"slots":20,"tags":["t2"]}`, 200, upstreamBody("svc", `slots=20;tags=["t2"]`)},
		{"put by id creates with that id", "PUT", "/upstreams/dddddddd-0000-4000-8000-000000000004", `{"name":"by-id"}`, 200, upstreamBody("by-id", "")},
		{"put url key wins over body name", "PUT", "/upstreams/by-name", `{"name":"other"}`, 200, upstreamBody("by-name", "")},
		{"get by chosen id", "GET", "/upstreams/dddddddd-0000-4000-8000-000000000004", nil, 200, upstreamBody("by-id", "")},
		{"hash_on sets consistent-hashing", "PATCH", "/upstreams/by-id", `{"hash_on":"header","hash_on_header":"X-User"}`, 200,
			upstreamBody("by-id", `algorithm="consistent-hashing";hash_on="header";hash_on_header="X-User"`)},
		{"delete upstream cascades", "DELETE", "/upstreams/svc", nil, 204, ""},
		{"its targets are gone", "GET", "/upstreams/svc/targets", nil, 404, `{"message":"Not found"}`},
		{"delete absent upstream", "DELETE", "/upstreams/svc", nil, 204, ""},
		{"targets endpoints disabled as in Kong 3", "GET", "/targets/" + idB, nil, 404, `{"message":"Not found"}`},
	} {
		t.Run(s.name, func(t *testing.T) {
			e.t = t
			e.expect(s.method, s.path, s.body, s.status, s.want)
		})
	}
	e.t = t
	// the client-chosen id survives, the URL key wins on PUT
	if _, body, _ := e.do("GET", "/upstreams/by-id", nil); !strings.Contains(string(body), `"id":"dddddddd-0000-4000-8000-000000000004"`) {
		t.Fatalf("PUT by id did not keep the id: %s", body)
	}
}

// TestHTTPBehaviour checks HEAD, OPTIONS and the headers of every answer.
func TestHTTPBehaviour(t *testing.T) {
	e := start(t)
	e.do("POST", "/upstreams", `{"name":"u"}`)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"HEAD", "/upstreams/u", 200, ""},
		{"HEAD", "/nope", 404, ""},
		{"OPTIONS", "/", 204, "GET, HEAD, OPTIONS"},
		{"OPTIONS", "/upstreams/u", 204, "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"},
		{"OPTIONS", "/upstreams/u/targets/", 204, "GET, HEAD, OPTIONS, POST"},
		{"OPTIONS", "/upstreams/u/targets/a:1/healthy", 204, "OPTIONS, POST, PUT"},
		{"OPTIONS", "/nope", 404, ""},
	} {
		status, body, hdr := e.do(tc.method, tc.path, nil)
		if status != tc.status || hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tc.method, tc.path, status, hdr.Get("Allow"), tc.status, tc.allow)
		}
		if (tc.method == "HEAD" || status == 204) && len(body) != 0 {
			t.Errorf("%s %s: body %q, want none", tc.method, tc.path, body)
		}
		if tc.method == "OPTIONS" && status == 204 && hdr.Get("Access-Control-Allow-Methods") != tc.allow {
			t.Errorf("%s %s: Access-Control-Allow-Methods %q", tc.method, tc.path, hdr.Get("Access-Control-Allow-Methods"))
		}
	}
	status, _, hdr := e.do("GET", "/upstreams/u", nil)
	if status != 200 || hdr.Get("Content-Type") != "application/json; charset=utf-8" || hdr.Get("Server") != "kong/3.11.0" {
		t.Fatalf("GET headers: %d %v", status, hdr)
	}
}

// TestInfoWholeBodies compares GET / and GET /status whole, with the
// machine-dependent values replaced.
func TestInfoWholeBodies(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		path     string
		volatile []string
		want     string
	}{
		{"/", []string{"hostname", "lua_version", "pids"}, `{"tagline":"Welcome to kong","version":"3.11.0","edition":"community",
			"hostname":"<v>","node_id":"<id>","timers":{"running":0,"pending":0},
			"plugins":{"available_on_server":{},"enabled_in_cluster":[]},"lua_version":"<v>",
			"configuration":{"database":"bolt","role":"traditional","router_flavor":"traditional_compatible",
			"proxy_listen":["off"],"proxy_listeners":[],"proxy_ssl_enabled":false,
			"admin_listen":["127.0.0.1:` + fmt.Sprint(e.c.HTTPPort) + `"],"admin_ssl_enabled":false,
			"admin_listeners":[{"ip":"127.0.0.1","port":` + fmt.Sprint(e.c.HTTPPort) + `,"listener":"127.0.0.1:` + fmt.Sprint(e.c.HTTPPort) + `",
				"ssl":false,"http2":false,"proxy_protocol":false,"deferred":false,"bind":false,"reuseport":false,"backlog=%d+":false,
				"ipv6only=on":false,"ipv6only=off":false,"so_keepalive=on":false,"so_keepalive=off":false,"so_keepalive=%w*:%w*:%d*":false}]},"pids":"<v>"}`},
		{"/status", []string{"memory"}, `{"database":{"reachable":true},
			"server":{"total_requests":0,"connections_active":0,"connections_accepted":0,"connections_handled":0,"connections_reading":0,"connections_writing":0,"connections_waiting":0},
			"memory":"<v>","registry":{"version":1,"upstreams":0}}`},
	} {
		status, body, _ := e.do("GET", tc.path, nil)
		var got, want map[string]any
		if err := json.Unmarshal(normalize(body), &got); err != nil || status != 200 {
			t.Fatalf("GET %s: %d %s", tc.path, status, body)
		}
		for _, k := range tc.volatile {
			if got[k] == nil {
				t.Fatalf("GET %s: no %q in %s", tc.path, k, body)
			}
			got[k] = "<v>"
		}
		json.Unmarshal([]byte(tc.want), &want)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("GET %s:\n got %s\nwant %s", tc.path, g, w)
		}
	}
}

// TestEscapedPathSegments: keys are unescaped once, and an escaped "/"
// does not split a segment.
func TestEscapedPathSegments(t *testing.T) {
	e := start(t)
	e.do("POST", "/upstreams", `{"name":"u"}`)
	e.do("POST", "/upstreams/u/targets", `{"target":"10.0.0.1:80"}`)
	e.expect("GET", "/upstreams/u/targets/10.0.0.1%3A80", nil, 200, target("10.0.0.1:80", "100", "null"))
	e.expect("GET", "/upstreams/%75", nil, 200, upstreamBody("u", ""))
	e.expect("GET", "/upstreams/u%2Ftargets", nil, 400, `{"code":10,"name":"invalid unique name","message":"Invalid name ('u/targets'); must be a valid hostname"}`)
	e.expect("GET", "/upstreams/u/targets/10.0.0.1%2525", nil, 404, `{"message":"Not found"}`)
}
