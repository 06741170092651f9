package upstreams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// stuckLimit bounds every wait of TestReadsDoNotWaitForAStuckWrite: a hang
// guard, far above anything the test measures.
const stuckLimit = 30 * time.Second

// stuckKongYAML is the declarative config the test writes: the upstream u
// it starts with, and an upstream m.
const stuckKongYAML = `_format_version: "3.0"
upstreams:
  - name: u
    targets:
      - target: 127.0.0.1:1
  - name: m
    targets:
      - target: 127.0.0.1:3
`

// hasUpstreamM reports whether the upstream of stuckKongYAML that the
// registry did not have is there.
func hasUpstreamM(reg *upstreams.Registry) bool {
	ts, ok := reg.Targets("m")
	return ok && len(ts) == 1
}

// gatedStore is a bbolt store whose next Apply, once armed, waits until
// released: a write stuck on its store, deterministically.
type gatedStore struct {
	*boltstore.Store
	armed   atomic.Bool
	entered chan struct{} // receives once the armed Apply waits
	release chan struct{} // closed to let it go on
}

func (s *gatedStore) Apply(ctx context.Context, b upstreams.Batch) error {
	if s.armed.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Apply(ctx, b)
}

// within fails the test unless done is closed within stuckLimit.
func within(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(stuckLimit):
		t.Fatalf("still waiting after %v for %s", stuckLimit, what)
	}
}

// TestReadsDoNotWaitForAStuckWrite: while a write waits for its store,
// reads answer from memory, a Reload (another node's write) goes through,
// and a write queued behind it leaves when its caller gives up; once the
// store answers, the write is acknowledged and kept along with what the
// Reload brought.
func TestReadsDoNotWaitForAStuckWrite(t *testing.T) {
	writes := []struct {
		name  string
		write func(ctx context.Context, reg *upstreams.Registry) error
		check func(reg *upstreams.Registry) bool
	}{
		{"target", func(ctx context.Context, reg *upstreams.Registry) error {
			_, err := reg.CreateTarget(ctx, "u", map[string]any{"target": "127.0.0.1:2"})
			return err
		}, func(reg *upstreams.Registry) bool {
			_, ok := reg.Target("u", "127.0.0.1:2")
			return ok
		}},
		{"declarative merge", func(ctx context.Context, reg *upstreams.Registry) error {
			cfg, kerr := buildDoc(t, stuckKongYAML, false)
			if kerr != nil {
				return kerr
			}
			return reg.MergeDeclarative(ctx, cfg)
		}, hasUpstreamM},
		{"declarative replace", func(ctx context.Context, reg *upstreams.Registry) error {
			cfg, kerr := buildDoc(t, stuckKongYAML, false)
			if kerr != nil {
				return kerr
			}
			return reg.ReplaceDeclarative(ctx, cfg)
		}, hasUpstreamM},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			ctx := context.Background()
			store := &gatedStore{Store: new(boltstore.Store), entered: make(chan struct{}), release: make(chan struct{})}
			if err := store.Open(filepath.Join(t.TempDir(), "r.db")); err != nil {
				t.Fatal(err)
			}
			reg, err := upstreams.NewRegistry(ctx, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "u"}); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.CreateTarget(ctx, "u", map[string]any{"target": "127.0.0.1:1"}); err != nil {
				t.Fatal(err)
			}

			store.armed.Store(true)
			written := make(chan error, 1)
			go func() { written <- w.write(ctx, reg) }()
			entered := make(chan struct{})
			go func() { <-store.entered; close(entered) }()
			within(t, "the write to reach its store", entered)

			read := make(chan struct{})
			var took time.Duration
			go func() {
				defer close(read)
				start := time.Now()
				_, okU := reg.Upstream("u")
				ts, okT := reg.Targets("u")
				_, okTg := reg.Target("u", "127.0.0.1:1")
				if !okU || !okT || !okTg || len(ts) != 1 || len(reg.Upstreams()) != 1 || reg.Pool("u") == nil || len(reg.Export()) == 0 {
					t.Errorf("reads while the write is stuck: upstream %v, targets %v %v, target %v", okU, okT, ts, okTg)
				}
				took = time.Since(start)
			}()
			within(t, "reads while the write is stuck", read)

			// another node writes an upstream, and this node reloads
			other := otherNodeUpstream(t, "other")
			if err := store.Store.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{other}}); err != nil {
				t.Fatal(err)
			}
			reloaded := make(chan struct{})
			go func() {
				defer close(reloaded)
				if err := reg.Reload(ctx); err != nil {
					t.Errorf("reload while the write is stuck: %v", err)
				}
			}()
			within(t, "a reload while the write is stuck", reloaded)

			// a second write queues behind the stuck one; its caller gives up
			qctx, giveUp := context.WithCancel(ctx)
			queued := make(chan error, 1)
			go func() {
				_, err := reg.CreateUpstream(qctx, map[string]any{"name": "queued"})
				queued <- err
			}()
			giveUp()
			left := make(chan struct{})
			go func() {
				if err := <-queued; !errors.Is(err, context.Canceled) {
					t.Errorf("the queued write whose caller gave up returned %v, want context.Canceled", err)
				}
				close(left)
			}()
			within(t, "the queued write whose caller gave up to return", left)
			select {
			case err := <-written:
				t.Fatalf("the write returned (%v) while its store was stuck", err)
			default:
			}
			t.Logf("with a write stuck on its store: 6 reads answered in %v; the reload of another node's write went through", took)

			close(store.release)
			if err := <-written; err != nil {
				t.Fatalf("the write once its store answered: %v", err)
			}
			if !w.check(reg) {
				t.Fatal("the acknowledged write is missing from the registry")
			}
			if _, ok := reg.Upstream("queued"); ok {
				t.Fatal("the write whose caller gave up while it queued was applied")
			}
			if _, ok := reg.Upstream("other"); !ok {
				t.Fatal("the write undid the reload of another node's upstream")
			}
			if _, ok := reg.Target("u", "127.0.0.1:1"); !ok {
				t.Fatal("the target written before is gone")
			}
		})
	}
}

// otherNodeUpstream is the record of an upstream as another node would
// have written it.
func otherNodeUpstream(t *testing.T, name string) upstreams.Record {
	t.Helper()
	m, verr := upstreams.UpstreamSchema.Process(map[string]any{"name": name}, schema.Insert)
	if verr != nil {
		t.Fatal(verr)
	}
	id := uuid.NewString()
	m["id"], m["created_at"], m["updated_at"] = id, time.Now().Unix(), time.Now().Unix()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return upstreams.Record{Kind: upstreams.UpstreamSchema.Name, ID: id, Key: name, Data: data}
}

// TestWritesReadsAndReloadsTogether runs writes, reads and reloads at once
// (for the race detector): afterwards the registry's memory is what its
// store holds, and every acknowledged target is there.
func TestWritesReadsAndReloadsTogether(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "u"}); err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	var wg sync.WaitGroup
	wg.Go(func() { // targets: create every one, delete every other one
		for i := range rounds {
			target := fmt.Sprintf("127.0.0.1:%d", 1000+i)
			if _, err := reg.CreateTarget(ctx, "u", map[string]any{"target": target}); err != nil {
				t.Errorf("creating %s: %v", target, err)
			}
			if i%2 == 1 {
				if err := reg.DeleteTarget(ctx, "u", target); err != nil {
					t.Errorf("deleting %s: %v", target, err)
				}
			}
		}
	})
	wg.Go(func() { // services and upstream updates
		for i := range rounds {
			if _, err := reg.CreateService(ctx, map[string]any{"name": fmt.Sprintf("s%d", i), "host": "u"}); err != nil {
				t.Errorf("creating service s%d: %v", i, err)
			}
			if _, err := reg.UpdateUpstream(ctx, "u", map[string]any{"slots": float64(100 + i)}); err != nil {
				t.Errorf("updating u: %v", err)
			}
		}
	})
	wg.Go(func() {
		for range rounds {
			if err := reg.Reload(ctx); err != nil {
				t.Errorf("reload: %v", err)
			}
		}
	})
	wg.Go(func() {
		for range 5 * rounds {
			reg.Targets("u")
			reg.Upstreams()
			reg.Export()
			_ = reg.Gateway().Routes
			if p := reg.Pool("u"); p == nil {
				t.Error("the pool of u is missing")
			}
		}
	})
	wg.Wait()
	before, _ := reg.Targets("u")
	services := len(reg.Gateway().Services)
	if err := reg.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := reg.Targets("u")
	if len(before) != rounds/2 || !reflect.DeepEqual(before, after) || services != rounds || len(reg.Gateway().Services) != rounds {
		t.Fatalf("after the concurrent writes: %d targets in memory, %d in the store (want %d); %d services in memory, %d in the store (want %d)",
			len(before), len(after), rounds/2, services, len(reg.Gateway().Services), rounds)
	}
	if u, _ := reg.Upstream("u"); u.Slots != 100+rounds-1 {
		t.Fatalf("slots %d after the updates, want %d", u.Slots, 100+rounds-1)
	}
}
