package upstreams_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

func buildDoc(t *testing.T, doc string, flatten bool) (*upstreams.DeclarativeConfig, *schema.Error) {
	t.Helper()
	m, err := upstreams.ParseDeclarative([]byte(doc))
	if err != nil {
		return nil, kongErr(t, err)
	}
	cfg, err := upstreams.BuildDeclarative(m, flatten)
	if err != nil {
		return nil, kongErr(t, err)
	}
	return cfg, nil
}

func TestSeedKongYAMLBuilds(t *testing.T) {
	raw, err := os.ReadFile("../testdata/kong.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, kerr := buildDoc(t, string(raw), false)
	if kerr != nil {
		t.Fatal(kerr.Message)
	}
	if len(cfg.Services) != 1 || len(cfg.Routes) != 1 || len(cfg.Upstreams) != 1 || len(cfg.Targets) != 2 {
		t.Fatalf("entities: %d services, %d routes, %d upstreams, %d targets", len(cfg.Services), len(cfg.Routes), len(cfg.Upstreams), len(cfg.Targets))
	}
	s, rt, u := cfg.Services[0], cfg.Routes[0], cfg.Upstreams[0]
	if rt.ServiceID() != s.ID || cfg.Targets[0].Upstream.ID != u.ID || !rt.StripPath || rt.Paths[0] != "/api" || s.Host != "upstream-example" {
		t.Fatalf("references or fields wrong: %+v %+v", s, rt)
	}
	again, _ := buildDoc(t, string(raw), false)
	if again.Services[0].ID != s.ID || again.Routes[0].ID != rt.ID || again.Targets[1].ID != cfg.Targets[1].ID {
		t.Fatal("ids differ between two builds of the same file")
	}
}

func TestDeclarativeErrorsInKongsShape(t *testing.T) {
	doc := `{"_format_version":"3.0",
		"services":[{"name":"ok","host":"a.test"},{"name":"bad","host":"b.test:80","routes":[{"paths":["/ok"]},{"paths":["nope"]}]}],
		"upstreams":[{"name":"u","targets":[{"target":"not a host"}]}],
		"routes":[{"name":"orphan","paths":["/"],"service":"missing"}]}`
	_, kerr := buildDoc(t, doc, false)
	if kerr == nil || kerr.Status != 400 || kerr.Code != schema.CodeDeclarativeConfig || kerr.Name != "invalid declarative configuration" {
		t.Fatalf("error: %+v", kerr)
	}
	want := `{
		"services":[null,{"host":"must not have a port","routes":[null,{"paths":["should start with: / (fixed path) or ~/ (regex path)"]}]}],
		"upstreams":[{"targets":[{"target":"Invalid target; not a valid hostname or ip address"}]}],
		"routes":[{"@entity":["invalid reference 'service: missing' (no such entry in 'services')"]}]}`
	got, _ := json.Marshal(kerr.Fields)
	if !reflect.DeepEqual(decode(t, string(got)), decode(t, want)) {
		t.Fatalf("fields\n got %s\nwant %s", got, want)
	}
	wantMsg := `declarative config is invalid: {routes={{["@entity"]={"invalid reference 'service: missing' (no such entry in 'services')"}}},` +
		`services={[2]={host="must not have a port",routes={[2]={paths={"should start with: / (fixed path) or ~/ (regex path)"}}}}},` +
		`upstreams={{targets={{target="Invalid target; not a valid hostname or ip address"}}}}}`
	if kerr.Message != wantMsg {
		t.Fatalf("message\n got %s\nwant %s", kerr.Message, wantMsg)
	}

	_, flat := buildDoc(t, doc, true)
	if len(flat.Fields) != 0 {
		t.Fatalf("flattened errors should leave no entity errors in fields: %v", flat.Fields)
	}
	gotFlat, _ := json.Marshal(flat.FlattenedErrors)
	wantFlat := `[
		{"entity_type":"service","entity_name":"bad","entity":{"name":"bad","host":"b.test:80"},
		 "errors":[{"type":"field","field":"host","message":"must not have a port"}]},
		{"entity_type":"route","entity":{"paths":["nope"],"service":{"id":"<service id>"}},
		 "errors":[{"type":"field","field":"paths.1","message":"should start with: / (fixed path) or ~/ (regex path)"}]},
		{"entity_type":"target","entity":{"target":"not a host","upstream":{"id":"<upstream id>"}},
		 "errors":[{"type":"field","field":"target","message":"Invalid target; not a valid hostname or ip address"}]},
		{"entity_type":"route","entity_name":"orphan","entity":{"name":"orphan","paths":["/"],"service":"missing"},
		 "errors":[{"type":"entity","message":"invalid reference 'service: missing' (no such entry in 'services')"}]}]`
	var gf []map[string]any
	json.Unmarshal(gotFlat, &gf)
	for _, e := range gf { // parent ids are generated: check they are UUIDs, then compare the rest
		ent := e["entity"].(map[string]any)
		for fk, placeholder := range map[string]string{"service": "<service id>", "upstream": "<upstream id>"} {
			if ref, ok := ent[fk].(map[string]any); ok && schema.IsUUID(ref["id"].(string)) {
				ref["id"] = placeholder
			}
		}
	}
	var wf []map[string]any
	json.Unmarshal([]byte(wantFlat), &wf)
	if !reflect.DeepEqual(gf, wf) {
		b, _ := json.Marshal(gf)
		t.Fatalf("flattened_errors\n got %s\nwant %s", b, wantFlat)
	}
}

func TestDeclarativeDocumentLevelErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"yaml syntax", "services: [", `{"error":"failed parsing declarative configuration: yaml: line 1: did not find expected node content"}`},
		{"not an object", `[1,2]`, `{"error":"expected an object as declarative configuration"}`},
		{"no version", `{"services":[]}`, `{"_format_version":"required field missing"}`},
		{"unknown version", `{"_format_version":"4.0"}`, `{"_format_version":"expected one of: 1.1, 2.1, 3.0"}`},
		{"certificates", `{"_format_version":"3.0","certificates":[{"cert":"x"}]}`,
			`{"certificates":"this gateway has no certificates (it serves Kong's services, routes, upstreams and targets): Caddy's tls directive and automatic HTTPS manage certificates; the list must be empty"}`},
		{"transform not a boolean", `{"_format_version":"3.0","_transform":"yes"}`, `{"_transform":"expected a boolean"}`},
		{"unknown key", `{"_format_version":"3.0","apis":[]}`, `{"apis":"unknown field"}`},
		{"duplicate names", `{"_format_version":"3.0","services":[{"name":"a","host":"h"},{"name":"a","host":"i"}]}`,
			`{"services":{"a":"uniqueness violation: 'services' entity with name set to 'a' already declared"}}`},
		{"duplicate targets", `{"_format_version":"3.0","upstreams":[{"name":"u","targets":[{"target":"10.0.0.1"},{"target":"10.0.0.1:8000"}]}]}`,
			`{"targets":{"10.0.0.1:8000":"uniqueness violation: 'targets' entity with target set to '10.0.0.1:8000' already declared"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, kerr := buildDoc(t, tc.doc, false)
			if kerr == nil || kerr.Code != schema.CodeDeclarativeConfig {
				t.Fatalf("error: %+v", kerr)
			}
			got, _ := json.Marshal(kerr.Fields)
			if !reflect.DeepEqual(decode(t, string(got)), decode(t, tc.want)) {
				t.Fatalf("fields\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestReplaceAndMergeDeclarative(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	runtime, err := reg.CreateService(ctx, decode(t, `{"name":"runtime","host":"r.test"}`))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := os.ReadFile("../testdata/kong.yaml")
	cfg, kerr := buildDoc(t, string(seed), false)
	if kerr != nil {
		t.Fatal(kerr.Message)
	}
	// merge keeps entities the file does not mention, and is idempotent
	if err := reg.MergeDeclarative(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	v := reg.Version()
	if err := reg.MergeDeclarative(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if reg.Version() != v {
		t.Fatal("merging an unchanged file rewrote entities")
	}
	g := reg.Gateway()
	if len(g.Services) != 2 || len(g.Routes) != 1 || g.Services[runtime.ID] == nil || reg.Pool("upstream-example") == nil {
		t.Fatalf("after merge: %d services, %d routes", len(g.Services), len(g.Routes))
	}
	// an entity with the file's name but another id keeps its id
	reg2 := newRegistry(t)
	pre, _ := reg2.CreateUpstream(ctx, decode(t, `{"name":"upstream-example","slots":100}`))
	if err := reg2.MergeDeclarative(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if u, _ := reg2.Upstream("upstream-example"); u.ID != pre.ID || u.Slots != 10000 {
		t.Fatalf("merge by name: id %s (was %s), slots %d", u.ID, pre.ID, u.Slots)
	}
	if ts, _ := reg2.Targets("upstream-example"); len(ts) != 2 {
		t.Fatalf("targets of the adopted upstream: %d", len(ts))
	}

	// replace removes what the file does not have
	if err := reg.ReplaceDeclarative(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	g = reg.Gateway()
	if len(g.Services) != 1 || g.Services[runtime.ID] != nil {
		t.Fatalf("after replace: %d services", len(g.Services))
	}
	empty, _ := buildDoc(t, `_format_version: "3.0"`, false)
	if err := reg.ReplaceDeclarative(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if g := reg.Gateway(); len(g.Services)+len(g.Routes) != 0 || len(reg.Upstreams()) != 0 || reg.Pool("upstream-example") != nil {
		t.Fatal("an empty config left entities behind")
	}
}

// TestDeclarativeTargetsOfSourcedUpstreamRefused: a config giving targets
// to an upstream whose targets come from a target source is refused, as
// the Admin API refuses creating them; without targets it replaces the
// upstream and the source's targets follow the new one.
func TestDeclarativeTargetsOfSourcedUpstreamRefused(t *testing.T) {
	loadPushConfig(t, `{"module":"test_push","key":"declarative"}`)
	sink := sinkFor(t, "declarative")
	sink.Update([]targets.Endpoint{{Host: "127.0.0.1", Port: 8080, Weight: 100}})
	reg := upstreams.ActiveRegistry()
	ctx := context.Background()
	withTargets, kerr := buildDoc(t, `{"_format_version":"3.0","upstreams":[{"name":"pushed","targets":[{"target":"10.0.0.1"}]}]}`, false)
	if kerr != nil {
		t.Fatal(kerr.Message)
	}
	for _, apply := range []func(context.Context, *upstreams.DeclarativeConfig) error{reg.ReplaceDeclarative, reg.MergeDeclarative} {
		if e := kongErr(t, apply(ctx, withTargets)); e.Code != schema.CodeOperationUnsupported {
			t.Fatalf("targets for a sourced upstream: %+v", e)
		}
	}
	if got := pushedTargets(); got != "127.0.0.1:8080=100" {
		t.Fatalf("a refused config changed the targets: %q", got)
	}
	bare, _ := buildDoc(t, `{"_format_version":"3.0","upstreams":[{"name":"pushed","slots":100}]}`, false)
	if err := reg.ReplaceDeclarative(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if u, _ := reg.Upstream("pushed"); u.Slots != 100 || pushedTargets() != "127.0.0.1:8080=100" {
		t.Fatalf("after replacing the sourced upstream: slots %d, targets %q", u.Slots, pushedTargets())
	}
}
