package pgstore

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// newRegistry runs a registry on s, closed when the test ends.
func newRegistry(t *testing.T, s *Store) *upstreams.Registry {
	t.Helper()
	r, err := upstreams.NewRegistry(context.Background(), s, nil)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestTwoNodes runs two registries on one database, as two Caddy nodes
// would: a write on one shows on the other; with the database down,
// writes answer 503 and reads answer from memory; once it is back, both
// recover without help.
func TestTwoNodes(t *testing.T) {
	srv := testpg.StartServer(t)
	ctx := context.Background()
	a := newRegistry(t, openStore(t, srv.DSN(), "", time.Hour))
	b := newRegistry(t, openStore(t, srv.DSN(), "", time.Hour))

	start := time.Now()
	if _, err := a.CreateUpstream(ctx, map[string]any{"name": "svc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTarget(ctx, "svc", map[string]any{"target": "10.0.0.1:80"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "node B to see the target", func() bool {
		tgs, ok := b.Targets("svc")
		return ok && len(tgs) == 1
	})
	t.Logf("node B saw node A's writes %v after the first one started", time.Since(start))

	// the same name on the other node: refused by B's memory or by the
	// database's unique index, either way a 409
	_, err := b.CreateUpstream(ctx, map[string]any{"name": "svc"})
	var se *schema.Error
	if !errors.As(err, &se) || se.Status != http.StatusConflict {
		t.Fatalf("duplicate name on node B: %v, want a 409", err)
	}

	srv.Stop(t)
	_, err = a.CreateUpstream(ctx, map[string]any{"name": "down"})
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("write with the database down: %v, want a 503", err)
	}
	if tgs, ok := b.Targets("svc"); !ok || len(tgs) != 1 {
		t.Fatalf("node B's reads with the database down: %v %v", tgs, ok)
	}

	srv.Start(t)
	eventually(t, 20*time.Second, "writes to succeed again", func() bool {
		_, err := a.CreateUpstream(ctx, map[string]any{"name": "back"})
		return err == nil
	})
	eventually(t, 5*time.Second, "node B to see the write made after the restart", func() bool {
		_, ok := b.Upstream("back")
		return ok
	})
	if _, ok := b.Upstream("down"); ok {
		t.Fatal("the write refused while the database was down was applied")
	}
}
