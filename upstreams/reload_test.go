package upstreams_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
)

// overlappingStore is a bbolt store whose Load, after reading, lets a
// function run before it returns: a write of the registry made there
// commits while a Reload is loading, deterministically.
type overlappingStore struct {
	*boltstore.Store
	overlaps   atomic.Int64 // how many more Loads run duringLoad
	duringLoad func()
}

func (s *overlappingStore) Load(ctx context.Context) ([]upstreams.Record, error) {
	recs, err := s.Store.Load(ctx)
	if s.overlaps.Add(-1) >= 0 {
		s.duringLoad()
	}
	return recs, err
}

// TestReloadKeepsWritesMadeWhileLoading: a write that commits while a
// Reload is loading is not undone by the older records that Reload read,
// even when it happens on several loads in a row.
func TestReloadKeepsWritesMadeWhileLoading(t *testing.T) {
	for _, overlaps := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d overlapping writes", overlaps), func(t *testing.T) {
			ctx := context.Background()
			store := &overlappingStore{Store: new(boltstore.Store)}
			if err := store.Open(filepath.Join(t.TempDir(), "r.db")); err != nil {
				t.Fatal(err)
			}
			reg, err := upstreams.NewRegistry(ctx, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			written := 0
			store.duringLoad = func() {
				written++
				if _, err := reg.CreateUpstream(ctx, map[string]any{"name": fmt.Sprintf("during-%d", written)}); err != nil {
					t.Errorf("write during the load: %v", err)
				}
			}
			store.overlaps.Store(int64(overlaps))
			if err := reg.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if written != overlaps {
				t.Fatalf("%d writes made during loads, want %d", written, overlaps)
			}
			for i := 1; i <= written; i++ {
				if _, ok := reg.Upstream(fmt.Sprintf("during-%d", i)); !ok {
					t.Fatalf("the upstream written during load %d is gone after the reload", i)
				}
			}
		})
	}
}
