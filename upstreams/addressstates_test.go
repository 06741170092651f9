package upstreams_test

import (
	"context"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
)

// stateOf returns the state of the address dial in the named upstream's
// pool, or nil.
func stateOf(reg *upstreams.Registry, name, dial string) *balance.State {
	p := reg.Pool(name)
	if p == nil {
		return nil
	}
	for i := range p.Addresses {
		if p.Addresses[i].Dial == dial {
			return p.Addresses[i].State
		}
	}
	return nil
}

// TestAddressStatesSurvive: an address keeps its state (health, load)
// across the rebuilds of its pool, loses it when its target is removed,
// and an upstream deleted or renamed away and re-created under its name
// takes its addresses' states back, as Kong's health checker keeps a
// deleted upstream's health for a while.
func TestAddressStatesSurvive(t *testing.T) {
	ctx := context.Background()
	reg, err := upstreams.NewRegistry(ctx, &preloadedStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	mustDo := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const a, b = "127.0.0.1:21001", "127.0.0.1:21002"
	mustDo(reg.CreateUpstream(ctx, map[string]any{"name": "keep"}))
	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": a}))
	first := stateOf(reg, "keep", a)
	if first == nil {
		t.Fatal("no state for the first target")
	}
	first.ForceHealthy(false)

	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": b}))
	if got := stateOf(reg, "keep", a); got != first || got.Healthy() {
		t.Fatalf("after adding a target: state %p healthy %v, want %p unhealthy", got, got.Healthy(), first)
	}
	second := stateOf(reg, "keep", b)
	if second == nil || second == first || !second.Healthy() {
		t.Fatalf("the new target's state %p: want a new, healthy one", second)
	}

	// A removed target's state goes; the target added back starts afresh.
	mustDo(nil, reg.DeleteTarget(ctx, "keep", b))
	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": b}))
	if got := stateOf(reg, "keep", b); got == nil || got == second {
		t.Fatalf("a target added back has state %p, want a new one (was %p)", got, second)
	}

	// Deleted and re-created under the same name: the states come back.
	before := stateOf(reg, "keep", b)
	mustDo(nil, reg.DeleteUpstream(ctx, "keep"))
	if reg.Pool("keep") != nil {
		t.Fatal("pool still published after delete")
	}
	mustDo(reg.CreateUpstream(ctx, map[string]any{"name": "keep"}))
	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": a}))
	if got := stateOf(reg, "keep", a); got != first || got.Healthy() {
		t.Fatalf("re-created upstream: state %p healthy %v, want %p unhealthy", got, got.Healthy(), first)
	}
	// A target added later still finds its retired state.
	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": b}))
	if got := stateOf(reg, "keep", b); got != before {
		t.Fatalf("target added after re-creation: state %p, want %p", got, before)
	}

	// Renamed away: the old name's states are retired, the renamed
	// upstream starts afresh, and a new upstream of the old name takes them.
	mustDo(reg.UpdateUpstream(ctx, "keep", map[string]any{"name": "moved"}))
	if got := stateOf(reg, "moved", a); got == nil || got == first {
		t.Fatalf("renamed upstream: state %p, want a new one", got)
	}
	mustDo(reg.CreateUpstream(ctx, map[string]any{"name": "keep"}))
	mustDo(reg.CreateTarget(ctx, "keep", map[string]any{"target": a}))
	if got := stateOf(reg, "keep", a); got != first {
		t.Fatalf("new upstream of the old name: state %p, want %p", got, first)
	}
}
