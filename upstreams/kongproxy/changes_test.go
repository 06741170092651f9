package kongproxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// TestChangesApplyToTheNextRequest: routes and services created, changed
// and deleted at runtime route the very next request, without a reload.
func TestChangesApplyToTheNextRequest(t *testing.T) {
	c, reg := startKong(t)
	if resp, _ := send(t, c, "GET", "", "/new/x"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("before: status %d, want 404", resp.StatusCode)
	}
	id := service(t, reg, "new", "/v1")
	route(t, reg, "new", map[string]any{"name": "r", "paths": []any{"/new"}})
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v1/x" {
		t.Fatalf("after create: upstream saw %s, want /v1/x", s.URI)
	}
	if _, err := reg.UpdateService(t.Context(), id, map[string]any{"path": "/v2"}); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v2/x" {
		t.Fatalf("after the service's update: upstream saw %s, want /v2/x", s.URI)
	}
	if _, err := reg.UpdateRoute(t.Context(), "r", map[string]any{"strip_path": false}); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/new/x"); s.URI != "/v2/new/x" {
		t.Fatalf("after the route's update: upstream saw %s, want /v2/new/x", s.URI)
	}
	if err := reg.DeleteRoute(t.Context(), "r"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := send(t, c, "GET", "", "/new/x"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after delete: status %d, want 404", resp.StatusCode)
	}
}

// TestChangesUnderLoad: while 4 clients send requests, the route's
// service is changed 40 times (a new path each time, so a new proxy);
// every request is answered 200 by a live service, none is dropped by a
// rebuild of the router or of a service's proxy.
func TestChangesUnderLoad(t *testing.T) {
	c, reg := startKong(t)
	id := service(t, reg, "moving", "/v0")
	route(t, reg, "moving", map[string]any{"paths": []any{"/m"}})
	load := testcaddy.StartLoad(t, 4, testcaddy.GetOK(fmt.Sprintf("http://127.0.0.1:%d/m/x", c.HTTPPort)))
	start := time.Now()
	for i := range 40 {
		if _, err := reg.UpdateService(t.Context(), id, map[string]any{"path": fmt.Sprintf("/v%d", i+1)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sent, failed := load.Stop()
	t.Logf("%d requests during 40 service changes in %v, %d failed", sent, time.Since(start).Round(time.Millisecond), failed)
	if failed != 0 {
		t.Errorf("%d of %d requests failed while the service changed: %v", failed, sent, load.Failures())
	}
	if s := echoed(t, c, "GET", "", "/m/x"); s.URI != "/v40/x" {
		t.Errorf("after the changes: upstream saw %s, want /v40/x", s.URI)
	}
}

// TestReload: a config reload replaces the handler (its watcher and
// proxies are cleaned up) and the registry's routes keep routing.
func TestReload(t *testing.T) {
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, kongConfig, "{DB}", db)
	reg := upstreams.ActiveRegistry()
	service(t, reg, "kept", "")
	route(t, reg, "kept", map[string]any{"paths": []any{"/kept"}})
	for i := range 3 {
		// the first request after a reload may meet the old config's
		// socket (see GetAfterReload): transport errors are retried
		status, body := c.GetAfterReload(t, "/kept/x")
		var s seen
		if status != 200 || json.Unmarshal([]byte(body), &s) != nil || s.Backend != "kept" {
			t.Fatalf("after %d reloads: %d %s", i, status, body)
		}
		c.Load(t, kongConfig, "{DB}", db)
	}
}

// TestServiceHostBecomesAnUpstream: a service whose host is a plain host
// name goes to its host:port until an upstream of that name is created,
// then to the upstream's targets, and back to host:port once the
// upstream is deleted, on the very next request each time.
func TestServiceHostBecomesAnUpstream(t *testing.T) {
	direct := startEcho(t, "direct")
	balanced := startEcho(t, "balanced")
	_, port := hostPort(t, direct)
	c, reg := startKong(t)
	create(t, reg.CreateService, map[string]any{"name": "s", "host": "localhost", "port": port})
	route(t, reg, "s", map[string]any{"paths": []any{"/s"}})
	if s := echoed(t, c, "GET", "", "/s"); s.Backend != "direct" {
		t.Fatalf("before the upstream: reached %q, want direct", s.Backend)
	}
	create(t, reg.CreateUpstream, map[string]any{"name": "localhost"})
	if _, err := reg.CreateTarget(t.Context(), "localhost", map[string]any{"target": balanced}); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/s"); s.Backend != "balanced" {
		t.Fatalf("with the upstream: reached %q, want balanced", s.Backend)
	}
	if err := reg.DeleteUpstream(t.Context(), "localhost"); err != nil {
		t.Fatal(err)
	}
	if s := echoed(t, c, "GET", "", "/s"); s.Backend != "direct" {
		t.Fatalf("after the upstream's delete: reached %q, want direct", s.Backend)
	}
}
