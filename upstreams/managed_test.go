package upstreams_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// managedEcho is a layer like the Ingress controller's for the seed's echo
// Service: one service, its route and upstream, and two endpoints.
func managedEcho(t *testing.T, endpoints ...targets.Endpoint) upstreams.ManagedEntities {
	t.Helper()
	doc, err := upstreams.ParseDeclarative([]byte(`
_format_version: "3.0"
services:
- name: testing.echo.80
  host: echo.testing.80.svc
  routes:
  - name: testing.echo.echo..80
    paths: [/echo/, ~/echo$]
upstreams:
- name: echo.testing.80.svc
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := upstreams.BuildDeclarative(doc, false)
	if err != nil {
		t.Fatal(err)
	}
	return upstreams.ManagedEntities{Config: cfg, Endpoints: map[string][]targets.Endpoint{"echo.testing.80.svc": endpoints}}
}

func assertRefused(t *testing.T, what string, err error, message string) {
	t.Helper()
	var kerr *schema.Error
	if !errors.As(err, &kerr) || kerr.Status != 405 || kerr.Code != 12 || !strings.Contains(kerr.Message, message) {
		t.Errorf("%s: err = %v, want a 405 code 12 containing %q", what, err, message)
	}
}

// TestManagedLayer: entities a controller publishes are listed, routed
// and balanced like the store's, survive reloads and POST /config, are
// refused to writes with Kong's 405, and are never written to the store.
func TestManagedLayer(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	owner := new(int)
	ready := targets.Endpoint{Host: "10.244.0.5", Port: 1027, Weight: 100}
	reg.SetManaged(owner, "Kubernetes Ingress controller", managedEcho(t, ready,
		targets.Endpoint{Host: "10.244.0.6", Port: 1027, Weight: 100, Terminating: true}))

	svc, ok := reg.Service("testing.echo.80")
	if !ok || svc.Host != "echo.testing.80.svc" {
		t.Fatalf("service: %+v %v", svc, ok)
	}
	if rt, ok := reg.Route("testing.echo.echo..80"); !ok || rt.ServiceID() != svc.ID {
		t.Fatalf("route: %+v %v", rt, ok)
	}
	if g := reg.Gateway(); len(g.Routes) != 1 {
		t.Fatalf("gateway routes: %d", len(g.Routes))
	}
	ts, ok := reg.Targets("echo.testing.80.svc")
	if !ok || len(ts) != 2 || ts[0].Weight+ts[1].Weight != 100 {
		t.Fatalf("targets: %+v", ts)
	}
	if p := reg.Pool("echo.testing.80.svc"); p == nil {
		t.Fatal("no pool")
	}

	// writes to managed entities: Kong's refusal, nothing changes
	_, err := reg.UpdateService(ctx, "testing.echo.80", map[string]any{"retries": 1.0})
	assertRefused(t, "PATCH service", err, "cannot update 'services' entity 'testing.echo.80': it is managed by the Kubernetes Ingress controller")
	_, err = reg.UpsertService(ctx, svc.ID, map[string]any{"host": "x"})
	assertRefused(t, "PUT service", err, "managed by the Kubernetes Ingress controller")
	assertRefused(t, "DELETE service", reg.DeleteService(ctx, "testing.echo.80"), "cannot delete 'services' entity")
	assertRefused(t, "DELETE route", reg.DeleteRoute(ctx, "testing.echo.echo..80"), "cannot delete 'routes' entity")
	_, err = reg.UpdateUpstream(ctx, "echo.testing.80.svc", map[string]any{"slots": 20.0})
	assertRefused(t, "PATCH upstream", err, "cannot update 'upstreams' entity 'echo.testing.80.svc'")
	assertRefused(t, "DELETE upstream", reg.DeleteUpstream(ctx, "echo.testing.80.svc"), "cannot delete 'upstreams' entity")
	_, err = reg.CreateTarget(ctx, "echo.testing.80.svc", map[string]any{"target": "10.0.0.1:80"})
	assertRefused(t, "POST target", err, "its targets are managed by the Kubernetes Ingress controller")
	_, err = reg.CreateRoute(ctx, map[string]any{"paths": []any{"/x"}, "service": map[string]any{"name": "testing.echo.80"}})
	assertRefused(t, "POST route on a managed service", err, "cannot attach routes to 'services' entity 'testing.echo.80'")
	_, err = reg.CreateService(ctx, map[string]any{"name": "testing.echo.80", "host": "x"})
	var kerr *schema.Error
	if !errors.As(err, &kerr) || kerr.Status != 409 {
		t.Errorf("POST service with a managed name: %v, want a 409", err)
	}

	// the store's entities live beside the layer; a reload keeps it
	if _, err := reg.CreateService(ctx, map[string]any{"name": "stored", "host": "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Service("testing.echo.80"); !ok {
		t.Fatal("a reload dropped the managed service")
	}
	if ts, _ := reg.Targets("echo.testing.80.svc"); len(ts) != 2 {
		t.Fatalf("a reload dropped the managed targets: %+v", ts)
	}
	// the export (GET /config) is the store's content only
	if ex := reg.Export(); len(ex["services"]) != 1 || ex["services"][0]["name"] != "stored" || len(ex["upstreams"]) != 0 {
		t.Fatalf("export: %v", ex)
	}
	// POST /config replaces the store's content, not the layer's ...
	empty, _ := upstreams.BuildDeclarative(map[string]any{"_format_version": "3.0"}, false)
	if err := reg.ReplaceDeclarative(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Service("stored"); ok {
		t.Fatal("POST /config kept a stored service")
	}
	if _, ok := reg.Service("testing.echo.80"); !ok {
		t.Fatal("POST /config removed the managed service")
	}
	// ... and refuses to declare a managed entity
	assertRefused(t, "POST /config naming a managed upstream", reg.ReplaceDeclarative(ctx, managedEcho(t).Config), "managed by the Kubernetes Ingress controller")

	// endpoints only: same entities, new targets
	before, _ := reg.Service("testing.echo.80")
	reg.SetManaged(owner, "Kubernetes Ingress controller", managedEcho(t, ready))
	if ts, _ := reg.Targets("echo.testing.80.svc"); len(ts) != 1 || ts[0].Target != "10.244.0.5:1027" {
		t.Fatalf("targets after the terminating pod left: %+v", ts)
	}
	if after, _ := reg.Service("testing.echo.80"); after.CreatedAt != before.CreatedAt || after.UpdatedAt != before.UpdatedAt {
		t.Errorf("an unchanged service changed timestamps: %+v -> %+v", before, after)
	}

	// another owner cannot publish until it adopts the layer; then the
	// first owner's clear does nothing
	other := new(int)
	reg.SetManaged(other, "x", upstreams.ManagedEntities{})
	if _, ok := reg.Service("testing.echo.80"); !ok {
		t.Fatal("a superseded owner replaced the layer")
	}
	reg.AdoptManaged(other)
	reg.ClearManaged(owner)
	if _, ok := reg.Service("testing.echo.80"); !ok {
		t.Fatal("the previous owner cleared an adopted layer")
	}
	reg.ClearManaged(other)
	if _, ok := reg.Service("testing.echo.80"); ok {
		t.Fatal("the layer survived its owner's clear")
	}
	if _, ok := reg.Upstream("echo.testing.80.svc"); ok || reg.Pool("echo.testing.80.svc") != nil {
		t.Fatal("the managed upstream survived the clear")
	}
	if _, err := reg.CreateService(ctx, map[string]any{"name": "testing.echo.80", "host": "x"}); err != nil {
		t.Fatalf("the name is free again: %v", err)
	}
}
