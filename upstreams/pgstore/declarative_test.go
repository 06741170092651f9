package pgstore

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// TestDeclarativeReplaceReachesOtherNodes: a POST /config on one node is
// one database transaction, which the other node picks up whole.
func TestDeclarativeReplaceReachesOtherNodes(t *testing.T) {
	srv := testpg.StartServer(t)
	ctx := context.Background()
	a := newRegistry(t, openStore(t, srv.DSN(), "", time.Hour))
	b := newRegistry(t, openStore(t, srv.DSN(), "", time.Hour))
	if _, err := a.CreateService(ctx, map[string]any{"name": "runtime", "host": "r.test"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../testdata/kong.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := upstreams.ParseDeclarative(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := upstreams.BuildDeclarative(doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ReplaceDeclarative(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "node B to see the declarative config", func() bool {
		g := b.Gateway()
		if len(g.Services) != 1 || len(g.Routes) != 1 || g.Service(g.Routes[0]) == nil {
			return false
		}
		p := b.Pool("upstream-example")
		return p != nil && len(p.Addresses) == 2
	})
	if _, ok := b.Service("runtime"); ok {
		t.Fatal("node B still has the service the config replaced")
	}
	empty, _ := upstreams.BuildDeclarative(map[string]any{"_format_version": "3.0"}, false)
	if err := b.ReplaceDeclarative(ctx, empty); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "node A to see the empty config", func() bool {
		g := a.Gateway()
		return len(g.Services) == 0 && len(g.Routes) == 0 && a.Pool("upstream-example") == nil
	})

	// a service name taken on one node is a 409 on the other, from its
	// memory or from the database's unique index
	if _, err := a.CreateService(ctx, map[string]any{"name": "shared", "host": "a.test"}); err != nil {
		t.Fatal(err)
	}
	_, err = b.CreateService(ctx, map[string]any{"name": "shared", "host": "b.test"})
	var se *schema.Error
	if !errors.As(err, &se) || se.Status != http.StatusConflict || se.Fields["name"] != "shared" {
		t.Fatalf("duplicate service name on node B: %v", err)
	}
}
