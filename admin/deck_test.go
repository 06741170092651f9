package admin_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// decK's dump lists (go-database-reconciler pkg/dump): those that must
// answer 200, and those where a 404 means "none".
var (
	deckMustList     = []string{"/services", "/routes", "/plugins", "/certificates", "/ca_certificates", "/snis", "/consumers", "/upstreams", "/vaults", "/keys", "/key-sets"}
	deckTolerate404s = []string{"/consumer_groups", "/partials", "/filter-chains", "/key-auths", "/hmac-auths", "/jwts", "/basic-auths", "/oauth2", "/acls", "/mtls-auths"}
)

// deckClient replays what decK (through go-kong) sends.
type deckClient struct {
	e        *env
	defaults map[string][]map[string]map[string]any // entity -> schema fields
}

// listAll pages through a list as go-kong does: ?size=1000, then the
// answer's "offset" until there is none.
func (d *deckClient) listAll(path string, tolerate404 bool) []map[string]any {
	d.e.t.Helper()
	var all []map[string]any
	q := url.Values{"size": {"1000"}}
	for i := 0; i < 100; i++ {
		status, body, _ := d.e.do("GET", path+"?"+q.Encode(), nil)
		if status == 404 && tolerate404 {
			return nil
		}
		var page struct {
			Data   []map[string]any
			Offset *string
		}
		if status != 200 || json.Unmarshal(body, &page) != nil {
			d.e.t.Fatalf("GET %s: %d %s", path, status, body)
		}
		all = append(all, page.Data...)
		if page.Offset == nil {
			return all
		}
		q.Set("offset", *page.Offset)
	}
	d.e.t.Fatalf("GET %s: more than 100 pages", path)
	return nil
}

// dump reads the whole state as decK's dump does, entities keyed by kind.
func (d *deckClient) dump() map[string][]map[string]any {
	d.e.t.Helper()
	state := map[string][]map[string]any{}
	for _, p := range deckMustList {
		state[strings.TrimPrefix(p, "/")] = d.listAll(p, false)
	}
	for _, p := range deckTolerate404s {
		if got := d.listAll(p, true); len(got) > 0 {
			d.e.t.Fatalf("%s listed entities: %v", p, got)
		}
	}
	for _, u := range state["upstreams"] {
		state["targets"] = append(state["targets"], d.listAll("/upstreams/"+u["id"].(string)+"/targets", false)...)
	}
	return state
}

// fill applies the schema defaults to a file entity as decK's defaulter
// does, then drops nulls: go-kong leaves nil fields out of the body.
func (d *deckClient) fill(entity string, m map[string]any) map[string]any {
	fillDefaults(m, d.defaults[entity])
	return withoutNulls(m)
}

func withoutNulls(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = withoutNulls(sub)
		}
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// same compares what decK sent with what a dump returns, as decK's diff
// does: timestamps aside, null and absent alike.
func same(sent, dumped map[string]any) bool {
	d := withoutNulls(dumped)
	delete(d, "created_at")
	delete(d, "updated_at")
	raw, _ := json.Marshal(sent) // normalise numbers
	var s map[string]any
	json.Unmarshal(raw, &s)
	return reflect.DeepEqual(s, d)
}

// TestDeckSyncRequestSequence replays, over HTTP, what `deck gateway sync`
// of the seed kong.yaml sends: the version probe, the schema reads, the
// full dump, PUTs with decK-generated ids and nested references, the
// target PUT whose 404 makes go-kong POST with the id, the deletes of what
// the file lacks; then dumps again and checks a second sync would send
// nothing, and that the proxy serves the result.
func TestDeckSyncRequestSequence(t *testing.T) {
	e := start(t)
	b1, b2 := testcaddy.StartBackend(t, "B1"), testcaddy.StartBackend(t, "B2")
	// state decK finds and the file does not have: it deletes it
	stale := e.expect("POST", "/services", `{"name":"stale","host":"stale.test"}`, 201, serviceBody(`name="stale";host="stale.test"`))
	staleRoute := e.expect("POST", "/services/stale/routes", `{"paths":["/stale"]}`, 201, routeBody(`paths=["/stale"];service={"id":"<id>"}`))

	// deck gateway ping: GET /, version must parse as semver >= 3.0
	_, body, _ := e.do("GET", "/", nil)
	var info struct {
		Version       string
		Configuration map[string]any
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("GET /: %s", body)
	}
	major, _ := strconv.Atoi(strings.SplitN(info.Version, ".", 2)[0])
	if parts := strings.Split(info.Version, "."); len(parts) != 3 || major < 3 {
		t.Fatalf("version %q is not a Kong 3.x semantic version", info.Version)
	}
	if db, _ := info.Configuration["database"].(string); db == "" || db == "off" {
		t.Fatalf("configuration.database = %v: decK must see a database-backed Kong", info.Configuration["database"])
	}

	d := &deckClient{e: e, defaults: map[string][]map[string]map[string]any{}}
	for _, entity := range []string{"services", "routes", "upstreams", "targets"} {
		_, body, _ := e.do("GET", "/schemas/"+entity, nil)
		var desc struct{ Fields []map[string]map[string]any }
		if err := json.Unmarshal(body, &desc); err != nil || len(desc.Fields) == 0 {
			t.Fatalf("GET /schemas/%s: %s", entity, body)
		}
		d.defaults[entity] = desc.Fields
	}
	if before := d.dump(); len(before["services"]) != 1 || len(before["routes"]) != 1 {
		t.Fatalf("dump before sync: %v", before)
	}

	// the seed file, as decK plans it: ids generated, defaults filled
	const (
		sid = "0f9e2d1c-4b3a-4c5d-8e7f-a1b2c3d4e5f6"
		rid = "1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d"
		uid = "2b3c4d5e-6f7a-4b2c-8d3e-4f5a6b7c8d9e"
	)
	tids := []string{"3c4d5e6f-7a8b-4c3d-9e4f-5a6b7c8d9e0f", "4d5e6f7a-8b9c-4d4e-8f5a-6b7c8d9e0f1a"}
	service := d.fill("services", map[string]any{"id": sid, "name": "Upstream-Example", "host": "u", "port": 80, "protocol": "http", "path": "/"})
	route := d.fill("routes", map[string]any{"id": rid, "name": "Upstream-example", "paths": []any{"/api"}, "strip_path": true, "service": map[string]any{"id": sid}})
	upstream := d.fill("upstreams", map[string]any{"id": uid, "name": "u", "algorithm": "round-robin"})
	var targets []map[string]any
	for i, addr := range []string{b1.Addr, b2.Addr} {
		targets = append(targets, d.fill("targets", map[string]any{"id": tids[i], "target": addr, "weight": 100, "upstream": map[string]any{"id": uid}}))
	}

	send := func(method, path string, body map[string]any, want int) {
		t.Helper()
		status, got, _ := e.do(method, path, body)
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
		}
	}
	send("PUT", "/services/"+sid, service, 200)
	send("PUT", "/routes/"+rid, route, 200)
	send("PUT", "/upstreams/"+uid, upstream, 200)
	for i, target := range targets {
		send("PUT", "/upstreams/"+uid+"/targets/"+tids[i], target, 404) // go-kong then POSTs the same body
		send("POST", "/upstreams/"+uid+"/targets", target, 201)
	}
	send("DELETE", "/routes/"+staleRoute["id"].(string), nil, 204)
	send("DELETE", "/services/"+stale["id"].(string), nil, 204)

	// a second sync: the dump must equal the plan, entity for entity
	after := d.dump()
	plan := map[string][]map[string]any{"services": {service}, "routes": {route}, "upstreams": {upstream}, "targets": targets}
	for kind, want := range plan {
		got := after[kind]
		if len(got) != len(want) {
			t.Fatalf("%s: dump has %d, the file %d", kind, len(got), len(want))
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				if g["id"] == w["id"] {
					found = true
					if !same(w, g) {
						wb, _ := json.Marshal(w)
						gb, _ := json.Marshal(withoutNulls(g))
						t.Fatalf("%s %s: a second sync would update it:\n sent %s\n dump %s", kind, w["id"], wb, gb)
					}
				}
			}
			if !found {
				t.Fatalf("%s %s missing from the dump", kind, w["id"])
			}
		}
	}
	for _, kind := range []string{"plugins", "certificates", "ca_certificates", "snis", "consumers", "vaults", "keys", "key-sets"} {
		if len(after[kind]) != 0 {
			t.Fatalf("%s: %v", kind, after[kind])
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 20 && len(seen) < 2; i++ {
		seen[proxiedBackend(t, e)] = true
	}
	if !seen["B1"] || !seen["B2"] {
		t.Fatalf("the proxy reached %v, want both targets", seen)
	}
}
