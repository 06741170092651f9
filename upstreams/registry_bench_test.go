package upstreams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
)

// registryOfTargets builds a registry of nUp upstreams ("u0", "u1", ...)
// with nT round-robin targets each, loaded from a preloaded store.
func registryOfTargets(tb testing.TB, nUp, nT int) *upstreams.Registry {
	tb.Helper()
	reg, err := upstreams.NewRegistry(context.Background(), &preloadedStore{recs: recordsOfTargets(nUp, nT)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { reg.Close() })
	return reg
}

// recordsOfTargets are the store records of nUp upstreams ("u0", "u1", ...)
// with nT round-robin targets each.
func recordsOfTargets(nUp, nT int) []upstreams.Record {
	recs := make([]upstreams.Record, 0, nUp*(nT+1))
	for i := range nUp {
		uid := uuid.NewString()
		name := fmt.Sprintf("u%d", i)
		recs = append(recs, upstreams.Record{Kind: upstreams.UpstreamSchema.Name, ID: uid, Key: name,
			Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"name":%q,"algorithm":"round-robin"}`, uid, name))})
		for j := range nT {
			tid, target := uuid.NewString(), fmt.Sprintf("127.0.0.1:%d", 21000+j)
			recs = append(recs, upstreams.Record{Kind: upstreams.TargetSchema.Name, ID: tid, Parent: uid, Key: uid + "|" + target,
				Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"created_at":%d,"upstream":{"id":%q},"target":%q,"weight":100}`, tid, j, uid, target))})
		}
	}
	return recs
}

// BenchmarkRegistryPick measures what the registry source does per proxied
// request in a registry of 10 000 upstreams × 10 targets: look the
// upstream's pool up by name and pick an address. "same" picks in one
// upstream; "random" in a different upstream each time (names visited in a
// shuffled order), so the pools are not in the CPU caches.
func BenchmarkRegistryPick(b *testing.B) {
	const nUp, nT = 10000, 10
	reg := registryOfTargets(b, nUp, nT)
	names := make([]string, nUp)
	for i := range names {
		names[i] = fmt.Sprintf("u%d", i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, mode := range []string{"same", "random"} {
		b.Run(fmt.Sprintf("%s/%dx%d", mode, nUp, nT), func(b *testing.B) {
			b.ReportAllocs()
			var req balance.Request // a round-robin pick neither records nor hashes
			i := 0
			for b.Loop() {
				name := names[0]
				if mode == "random" {
					name = names[i%nUp]
					i++
				}
				if reg.Pool(name).Pick(&req) == nil {
					b.Fatal("no pick")
				}
			}
		})
	}
}
