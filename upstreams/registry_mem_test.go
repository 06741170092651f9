package upstreams_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkRegistryMemory measures the live Go heap a target costs at
// 2 000 upstreams × 10 targets (issue 18's goal is 1 KiB of RSS per target,
// of which the live heap is about half), built the two ways a registry
// gets its targets: "create" through the registry's API as the Admin API
// does (one CreateTarget per target, as bench/driver scale posts them),
// "load" from a store's records at start. The figure is the difference
// over the targets, the empty upstreams' heap subtracted, reported as
// B/target; B/op and ns/op are those of building the whole registry.
func BenchmarkRegistryMemory(b *testing.B) {
	const nUp, nT = 2000, 10
	b.Run(fmt.Sprintf("create/%dx%d", nUp, nT), func(b *testing.B) {
		var perTarget float64
		for b.Loop() {
			ctx := context.Background()
			reg, err := upstreams.NewRegistry(ctx, &preloadedStore{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			for i := range nUp {
				if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "scale-" + strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
			}
			before := liveHeap()
			for i := range nUp * nT {
				in := map[string]any{"target": "127.0.0.1:" + strconv.Itoa(21000+i%nT), "weight": 100.0}
				if _, err := reg.CreateTarget(ctx, "scale-"+strconv.Itoa(i/nT), in); err != nil {
					b.Fatal(err)
				}
			}
			after := liveHeap()
			perTarget = float64(after-before) / (nUp * nT)
			runtime.KeepAlive(reg)
			reg.Close()
		}
		b.ReportMetric(perTarget, "B/target")
	})
	b.Run(fmt.Sprintf("load/%dx%d", nUp, nT), func(b *testing.B) {
		var perTarget float64
		for b.Loop() {
			upOnly := loadedHeap(b, nUp, 0)
			full := loadedHeap(b, nUp, nT)
			perTarget = (float64(full) - float64(upOnly)) / (nUp * nT)
		}
		b.ReportMetric(perTarget, "B/target")
	})
}

// loadedHeap returns the live heap a registry loaded from the records of
// nUp upstreams × nT targets takes, the records themselves not counted.
func loadedHeap(tb testing.TB, nUp, nT int) uint64 {
	base := liveHeap()
	store := &drainingStore{recs: recordsOfTargets(nUp, nT)}
	reg, err := upstreams.NewRegistry(context.Background(), store, nil)
	if err != nil {
		tb.Fatal(err)
	}
	heap := liveHeap() - base
	runtime.KeepAlive(reg)
	reg.Close()
	return heap
}

// drainingStore hands its records to the first Load and lets go of them,
// so that a measurement of the registry's heap does not count them.
type drainingStore struct{ recs []upstreams.Record }

func (s *drainingStore) Load(context.Context) ([]upstreams.Record, error) {
	recs := s.recs
	s.recs = nil
	return recs, nil
}

func (s *drainingStore) Apply(context.Context, upstreams.Batch) error { return nil }

func (s *drainingStore) Close() error { return nil }
