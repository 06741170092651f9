package upstreams_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/uuid"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
)

func init() {
	caddy.RegisterModule(new(racingStore))
}

// racingStore is the bbolt store of a node that loses a race to another
// node started at the same time from the same config: just before its
// first write, the "other node" writes the same upstreams under ids of
// its own, which this node has not heard of.
type racingStore struct {
	boltstore.Store
	raced atomic.Bool
}

// CaddyModule returns the Caddy module information.
func (*racingStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "upstreams.stores.test_racing", New: func() caddy.Module { return new(racingStore) }}
}

func (s *racingStore) Apply(ctx context.Context, b upstreams.Batch) error {
	if s.raced.Swap(true) {
		return s.Store.Apply(ctx, b)
	}
	var other upstreams.Batch
	for _, rec := range b.Put {
		if rec.Kind != upstreams.UpstreamSchema.Name {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Data, &m); err != nil {
			return err
		}
		rec.ID = uuid.NewString()
		m["id"] = rec.ID
		data, err := json.Marshal(m)
		if err != nil {
			return err
		}
		rec.Data = data
		other.Put = append(other.Put, rec)
	}
	if err := s.Store.Apply(ctx, other); err != nil {
		return err
	}
	return s.Store.Apply(ctx, b)
}

// TestDeclaredUpstreamTakenByAnotherNode: a node whose declared upstream
// was just created by another node it has not heard of yet (nodes starting
// together) finds the name taken in the store; it catches up and applies
// its declaration on top of the other node's upstream instead of failing
// to start.
func TestDeclaredUpstreamTakenByAnotherNode(t *testing.T) {
	a := testcaddy.StartBackend(t, "a")
	c := testcaddy.New(t)
	cfg := strings.Replace(appConfig, "store bolt {DB}", "store test_racing {DB}", 1)
	c.Load(t, cfg, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{A}", a.Addr, "{WEIGHT}", "100")
	reg := upstreams.ActiveRegistry()
	ups := reg.Upstreams()
	if len(ups) != 1 || ups[0].Name != "declared" {
		t.Fatalf("upstreams %+v, want the one declared", ups)
	}
	if tgs, _ := reg.Targets("declared"); len(tgs) != 1 || tgs[0].Target != a.Addr {
		t.Fatalf("targets %+v, want the one declared", tgs)
	}
	if status, body := c.Get(t, "/declared/x"); status != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("proxy: %d %q", status, body)
	}
}
