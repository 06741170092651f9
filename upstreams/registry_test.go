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

func newRegistry(t testing.TB) *upstreams.Registry {
	t.Helper()
	reg := openRegistry(t, filepath.Join(t.TempDir(), "r.db"))
	t.Cleanup(func() { reg.Close() })
	return reg
}

// openRegistry opens a registry on the bolt file at path; the caller
// closes it.
func openRegistry(t testing.TB, path string) *upstreams.Registry {
	t.Helper()
	store := new(boltstore.Store)
	if err := store.Open(path); err != nil {
		t.Fatal(err)
	}
	reg, err := upstreams.NewRegistry(context.Background(), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// assertBadRequest checks err is a 400 Kong error whose body is want.
func assertBadRequest(t *testing.T, err error, want string) {
	t.Helper()
	var kerr *schema.Error
	if !errors.As(err, &kerr) || kerr.Status != 400 {
		t.Fatalf("err = %v, want a 400 schema.Error", err)
	}
	got, _ := json.Marshal(kerr)
	if !reflect.DeepEqual(decode(t, string(got)), decode(t, want)) {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// kongDefaultUpstream is Kong 3.x's answer to POST {"name":"my-upstream"}
// (kong-admin-api.md §1.6), ids and timestamps aside.
const kongDefaultUpstream = `{
  "name": "my-upstream", "algorithm": "round-robin", "hash_on": "none", "hash_fallback": "none",
  "hash_on_header": null, "hash_fallback_header": null, "hash_on_cookie": null, "hash_on_cookie_path": "/",
  "hash_on_query_arg": null, "hash_fallback_query_arg": null, "hash_on_uri_capture": null,
  "hash_fallback_uri_capture": null, "slots": 10000,
  "healthchecks": {
    "active": {"type":"http","timeout":1,"concurrency":10,"http_path":"/","https_sni":null,
               "https_verify_certificate":true,"headers":null,
               "healthy":{"interval":0,"http_statuses":[200,302],"successes":0},
               "unhealthy":{"interval":0,"http_statuses":[429,404,500,501,502,503,504,505],
                            "tcp_failures":0,"timeouts":0,"http_failures":0}},
    "passive": {"type":"http",
                "healthy":{"http_statuses":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308],"successes":0},
                "unhealthy":{"http_statuses":[429,500,503],"tcp_failures":0,"timeouts":0,"http_failures":0}},
    "threshold": 0
  },
  "tags": null, "host_header": null, "client_certificate": null, "use_srv_name": false,
  "sticky_sessions_cookie": null, "sticky_sessions_cookie_path": "/"
}`

func TestCreateUpstreamFillsKongDefaults(t *testing.T) {
	reg := newRegistry(t)
	u, err := reg.CreateUpstream(context.Background(), map[string]any{"name": "my-upstream"})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, withoutAuto(t, u), kongDefaultUpstream)
}

func TestUpstreamValidationMessages(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		in   string
		want string // whole Kong error body
	}{
		{"missing name", `{}`,
			`{"code":2,"name":"schema violation","message":"schema violation (name: required field missing)","fields":{"name":"required field missing"}}`},
		{"unknown field", `{"name":"u","nope":1}`,
			`{"code":2,"name":"schema violation","message":"schema violation (nope: unknown field)","fields":{"nope":"unknown field"}}`},
		{"ip name", `{"name":"1.2.3.4"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (name: Invalid name ('1.2.3.4'); no ip addresses allowed)","fields":{"name":"Invalid name ('1.2.3.4'); no ip addresses allowed"}}`},
		{"port in name", `{"name":"u.test:80"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (name: Invalid name ('u.test:80'); no port allowed)","fields":{"name":"Invalid name ('u.test:80'); no port allowed"}}`},
		{"slots range", `{"name":"u","slots":9}`,
			`{"code":2,"name":"schema violation","message":"schema violation (slots: value should be between 10 and 65536)","fields":{"slots":"value should be between 10 and 65536"}}`},
		{"slots type", `{"name":"u","slots":"many"}`,
			`{"code":2,"name":"schema violation","message":"schema violation (slots: expected an integer)","fields":{"slots":"expected an integer"}}`},
		{"consumer fallback", `{"name":"u","hash_on":"consumer","hash_fallback":"consumer"}`,
			`{"code":2,"name":"schema violation","message":"2 schema violations (failed conditional validation given value of field 'hash_on'; hash_fallback: expected one of: none, ip, header, cookie, path, query_arg, uri_capture)","fields":{"@entity":["failed conditional validation given value of field 'hash_on'"],"hash_fallback":"expected one of: none, ip, header, cookie, path, query_arg, uri_capture"}}`},
		{"nested healthcheck", `{"name":"u","healthchecks":{"active":{"timeout":-1}}}`,
			`{"code":2,"name":"schema violation","message":"schema violation (healthchecks.active: {timeout=\"value should be between 0 and 65535\"})","fields":{"healthchecks":{"active":{"timeout":"value should be between 0 and 65535"}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.CreateUpstream(ctx, decode(t, tc.in))
			assertBadRequest(t, err, tc.want)
		})
	}
	if n := len(reg.Upstreams()); n != 0 {
		t.Fatalf("rejected writes left %d upstreams behind", n)
	}
}

func TestAlgorithmShorthands(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct{ in, algorithm, hashOn string }{
		{`{"name":"a","hash_on":"ip"}`, "consistent-hashing", "ip"},
		{`{"name":"b","algorithm":"round-robin","hash_on":"ip"}`, "consistent-hashing", "ip"},
		{`{"name":"c","algorithm":"least-connections","hash_on":"ip"}`, "least-connections", "none"},
		{`{"name":"d","algorithm":"latency"}`, "latency", "none"},
	} {
		u, err := reg.CreateUpstream(ctx, decode(t, tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if u.Algorithm != tc.algorithm || u.HashOn != tc.hashOn {
			t.Errorf("%s: algorithm=%s hash_on=%s, want %s/%s", tc.in, u.Algorithm, u.HashOn, tc.algorithm, tc.hashOn)
		}
	}
	u, err := reg.UpdateUpstream(ctx, "c", decode(t, `{"hash_on":"none"}`))
	if err != nil || u.Algorithm != "round-robin" {
		t.Fatalf("PATCH hash_on=none on least-connections: %v %v, want round-robin", u, err)
	}
}

func TestPatchDeepMergesHealthchecks(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	if _, err := reg.CreateUpstream(ctx, decode(t, `{"name":"u","healthchecks":{"active":{"http_path":"/status","healthy":{"interval":5}}}}`)); err != nil {
		t.Fatal(err)
	}
	u, err := reg.UpdateUpstream(ctx, "u", decode(t, `{"healthchecks":{"active":{"healthy":{"successes":3}}},"tags":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := u.Healthchecks.Active
	if a.HTTPPath != "/status" || a.Healthy.Interval != 5 || a.Healthy.Successes != 3 || a.Timeout != 1 {
		t.Fatalf("merged active = %+v", a)
	}
	// PUT replaces: omitted fields go back to defaults
	u, err = reg.UpsertUpstream(ctx, "u", decode(t, `{"slots":100}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.Healthchecks.Active.HTTPPath != "/" || u.Tags != nil || u.Slots != 100 {
		t.Fatalf("PUT did not replace: %+v", u)
	}
	if _, err := reg.UpdateUpstream(ctx, "missing", map[string]any{}); err == nil || err.(*schema.Error).Code != schema.CodeNotFound {
		t.Fatalf("PATCH of a missing upstream: %v", err)
	}
}

func TestTargetNormalisationAndUniqueness(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	up, err := reg.CreateUpstream(ctx, map[string]any{"name": "u"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"konghq.test", "konghq.test:8000"},
		{"Mixed.Case:81", "Mixed.Case:81"},
		{"001.002.003.004:123", "1.2.3.4:123"},
		{"::1", "[0000:0000:0000:0000:0000:0000:0000:0001]:8000"},
		{"[::1]:8080", "[0000:0000:0000:0000:0000:0000:0000:0001]:8080"},
	} {
		tg, err := reg.CreateTarget(ctx, "u", map[string]any{"target": tc.in})
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if tg.Target != tc.want || tg.Weight != 100 || tg.Upstream.ID != up.ID {
			t.Errorf("%s stored as %+v, want %s weight 100", tc.in, tg, tc.want)
		}
	}
	_, err = reg.CreateTarget(ctx, "u", map[string]any{"target": "konghq.test:8000"})
	var kerr *schema.Error
	if !errors.As(err, &kerr) || kerr.Status != 409 || kerr.Code != 5 {
		t.Fatalf("duplicate target: %v, want 409 code 5", err)
	}
	for _, bad := range []map[string]any{
		{"target": "bad host"}, {"target": "1.2.3.256"}, {"target": "h:70000"}, {"target": "h", "weight": 65536.0}, {"weight": 1.0},
	} {
		if _, err := reg.CreateTarget(ctx, "u", bad); err == nil || err.(*schema.Error).Status != 400 {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
	if _, err := reg.CreateTarget(ctx, "nope", map[string]any{"target": "h"}); err == nil || err.(*schema.Error).Status != 404 {
		t.Errorf("target on a missing upstream: %v", err)
	}
	list, _ := reg.Targets("u")
	if len(list) != 5 {
		t.Fatalf("%d targets after rejected writes, want 5", len(list))
	}
	if err := reg.DeleteTarget(ctx, "u", "nope:1"); err == nil || err.(*schema.Error).Status != 404 {
		t.Fatalf("delete of a missing target: %v", err)
	}
	if err := reg.DeleteUpstream(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteUpstream(ctx, "u"); err != nil {
		t.Fatalf("second delete: %v (Kong answers 204)", err)
	}
	if reg.Pool("u") != nil {
		t.Fatal("pool still published after delete")
	}
}

// A target id given by the client is unique across upstreams: reusing one
// in another upstream is Kong's primary key violation and writes nothing.
func TestCreateTargetWithTakenIDIsAPrimaryKeyViolation(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	for _, name := range []string{"a", "b"} {
		if _, err := reg.CreateUpstream(ctx, map[string]any{"name": name}); err != nil {
			t.Fatal(err)
		}
	}
	const id = "6f1d2a4e-3b5c-4d7e-8f90-a1b2c3d4e5f6"
	if _, err := reg.CreateTarget(ctx, "a", map[string]any{"id": id, "target": "127.0.0.1:9001"}); err != nil {
		t.Fatal(err)
	}
	_, err := reg.CreateTarget(ctx, "b", map[string]any{"id": id, "target": "127.0.0.1:9002"})
	var se *schema.Error
	if !errors.As(err, &se) || se.Status != 409 || se.Name != "primary key violation" {
		t.Fatalf("got %v, want a 409 primary key violation", err)
	}
	if got, _ := reg.Targets("b"); len(got) != 0 {
		t.Fatalf("upstream b has %d targets, want 0", len(got))
	}
}

// CreateTargets writes all its targets or none: a duplicate or an invalid
// target in the batch leaves the upstream as it was, and a good batch is
// published as one pool.
func TestCreateTargetsAllOrNothing(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "a"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		batch  []map[string]any
		status int
	}{
		{"same target twice", []map[string]any{{"target": "127.0.0.1:9001"}, {"target": "127.0.0.1:9001"}}, 409},
		{"same target, other spelling", []map[string]any{{"target": "127.0.0.1"}, {"target": "127.0.0.1:8000"}}, 409},
		{"invalid weight", []map[string]any{{"target": "127.0.0.1:9001"}, {"target": "127.0.0.1:9002", "weight": -1.0}}, 400},
		{"same id twice", []map[string]any{
			{"id": "6f1d2a4e-3b5c-4d7e-8f90-a1b2c3d4e5f6", "target": "127.0.0.1:9001"},
			{"id": "6f1d2a4e-3b5c-4d7e-8f90-a1b2c3d4e5f6", "target": "127.0.0.1:9002"}}, 409},
	} {
		_, err := reg.CreateTargets(ctx, "a", tc.batch)
		var se *schema.Error
		if !errors.As(err, &se) || se.Status != tc.status {
			t.Fatalf("%s: got %v, want status %d", tc.name, err, tc.status)
		}
		if got, _ := reg.Targets("a"); len(got) != 0 {
			t.Fatalf("%s: upstream has %d targets after a failed batch, want 0", tc.name, len(got))
		}
	}
	before := reg.Version()
	created, err := reg.CreateTargets(ctx, "a", []map[string]any{{"target": "127.0.0.1:9001"}, {"target": "127.0.0.1:9002", "weight": 5.0}, {"target": "127.0.0.1:9003"}})
	if err != nil || len(created) != 3 {
		t.Fatalf("good batch: %v, %d created", err, len(created))
	}
	if got := reg.Version() - before; got != 1 {
		t.Fatalf("a batch of 3 bumped the version %d times, want once", got)
	}
	pool := reg.Pool("a")
	if pool == nil || len(pool.Addresses) != 3 {
		t.Fatalf("pool after the batch: %+v", pool)
	}
	if got, _ := reg.Target("a", "127.0.0.1:9002"); got.Weight != 5 {
		t.Fatalf("weight of 127.0.0.1:9002 = %d, want 5", got.Weight)
	}
}
