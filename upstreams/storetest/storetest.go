// Package storetest is a conformance suite for upstreams.Store
// implementations. A store's tests call Run with a function that opens a
// fresh, empty store; Run checks the contract every store must keep:
// round trips, overwrites, atomic batches, unique keys per kind, cascading
// deletes, concurrent writers and byte-faithful Data.
//
// Persistence across Close and reopen is store-specific and not covered.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// Run runs the conformance suite. open must return a new, empty store on
// every call; Run closes each store it opens when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) upstreams.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s upstreams.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyBatch", testEmptyBatch},
		{"Overwrite", testOverwrite},
		{"BatchIsAtomic", testBatchIsAtomic},
		{"KeyConflictInsideBatch", testKeyConflictInsideBatch},
		{"SameKeyAcrossKinds", testSameKeyAcrossKinds},
		{"RePutWithOwnKey", testRePutWithOwnKey},
		{"KeyChangeFreesOldKey", testKeyChangeFreesOldKey},
		{"DeleteMissing", testDeleteMissing},
		{"DeletesApplyBeforePuts", testDeletesApplyBeforePuts},
		{"CascadeDelete", testCascadeDelete},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentApply", testConcurrentApply},
		{"ConcurrentKeyRace", testConcurrentKeyRace},
		{"DataPreserved", testDataPreserved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// rec builds a record whose Data names it.
func rec(kind, id, parent, key string) upstreams.Record {
	return upstreams.Record{Kind: kind, ID: id, Parent: parent, Key: key,
		Data: json.RawMessage(fmt.Sprintf(`{"id":%q,"kind":%q}`, id, kind))}
}

func puts(recs ...upstreams.Record) upstreams.Batch { return upstreams.Batch{Put: recs} }

func apply(t *testing.T, s upstreams.Store, b upstreams.Batch) {
	t.Helper()
	if err := s.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply(%s): %v", describe(b), err)
	}
}

// load returns the store's records by "kind/id", failing on duplicates.
func load(t *testing.T, s upstreams.Store) map[string]upstreams.Record {
	t.Helper()
	recs, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out := make(map[string]upstreams.Record, len(recs))
	for _, r := range recs {
		k := r.Kind + "/" + r.ID
		if _, dup := out[k]; dup {
			t.Fatalf("Load returned %s twice", k)
		}
		out[k] = r
	}
	return out
}

// expect checks that the store holds exactly want (Data compared as JSON).
func expect(t *testing.T, s upstreams.Store, want ...upstreams.Record) {
	t.Helper()
	got := load(t, s)
	wantByID := make(map[string]upstreams.Record, len(want))
	for _, r := range want {
		wantByID[r.Kind+"/"+r.ID] = r
	}
	for k, w := range wantByID {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing record %s", k)
			continue
		}
		if g.Kind != w.Kind || g.ID != w.ID || g.Parent != w.Parent || g.Key != w.Key {
			t.Errorf("record %s = {parent %q key %q}, want {parent %q key %q}", k, g.Parent, g.Key, w.Parent, w.Key)
		}
		if !sameJSON(t, g.Data, w.Data) {
			t.Errorf("record %s data = %s, want %s", k, g.Data, w.Data)
		}
	}
	var extra []string
	for k := range got {
		if _, ok := wantByID[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		t.Errorf("unexpected records: %v", extra)
	}
}

// sameJSON compares two JSON documents by value, numbers by their text.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(p []byte) any {
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("invalid JSON %q: %v", p, err)
			return nil
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}

// wantConflict checks err is a key conflict naming kind and key.
func wantConflict(t *testing.T, err error, kind, key string) {
	t.Helper()
	if !errors.Is(err, upstreams.ErrConflict) {
		t.Fatalf("error = %v, want one wrapping upstreams.ErrConflict", err)
	}
	var ce *upstreams.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *upstreams.ConflictError in its chain", err, err)
	}
	if ce.Kind != kind || ce.Key != key {
		t.Errorf("ConflictError = {%q %q}, want {%q %q}", ce.Kind, ce.Key, kind, key)
	}
}

func describe(b upstreams.Batch) string {
	var parts []string
	for _, d := range b.Delete {
		parts = append(parts, "-"+d.Kind+"/"+d.ID)
	}
	for _, r := range b.Put {
		parts = append(parts, "+"+r.Kind+"/"+r.ID+"["+r.Key+"]")
	}
	return fmt.Sprint(parts)
}

func testRoundTrip(t *testing.T, s upstreams.Store) {
	expect(t, s) // fresh store is empty
	recs := []upstreams.Record{
		rec("upstreams", "u1", "", "example.com"),
		rec("upstreams", "u2", "", "example.org"),
		rec("targets", "t1", "u1", "u1|10.0.0.1:80"),
		rec("targets", "t2", "u1", "u1|10.0.0.2:80"),
		rec("targets", "t3", "u2", ""),
		rec("services", "s1", "", ""),
	}
	apply(t, s, puts(recs[:2]...))
	apply(t, s, puts(recs[2:]...))
	expect(t, s, recs...)
}

func testEmptyBatch(t *testing.T, s upstreams.Store) {
	apply(t, s, upstreams.Batch{})
	expect(t, s)
}

func testOverwrite(t *testing.T, s upstreams.Store) {
	apply(t, s, puts(rec("upstreams", "u1", "", "a"), rec("targets", "t1", "u1", "t-a")))
	u1 := upstreams.Record{Kind: "upstreams", ID: "u1", Key: "b", Data: json.RawMessage(`{"name":"b","slots":100}`)}
	t1 := upstreams.Record{Kind: "targets", ID: "t1", Parent: "u2", Key: "", Data: json.RawMessage(`{"weight":0}`)}
	apply(t, s, puts(u1, t1))
	expect(t, s, u1, t1)
}

func testBatchIsAtomic(t *testing.T, s upstreams.Store) {
	base := []upstreams.Record{
		rec("upstreams", "u1", "", "one"),
		rec("targets", "t1", "u1", "u1|a:1"),
	}
	apply(t, s, puts(base...))
	for _, tc := range []struct {
		name  string
		batch upstreams.Batch
		kind  string
		key   string
	}{
		{"second put conflicts", puts(rec("upstreams", "u2", "", "two"), rec("upstreams", "u3", "", "one")), "upstreams", "one"},
		{"update then conflict", puts(
			upstreams.Record{Kind: "upstreams", ID: "u1", Key: "one", Data: json.RawMessage(`{"changed":true}`)},
			rec("targets", "t9", "u1", "u1|a:1")), "targets", "u1|a:1"},
		{"delete then conflict", upstreams.Batch{
			Delete: []upstreams.RecordRef{{Kind: "targets", ID: "t1"}},
			Put:    []upstreams.Record{rec("upstreams", "u4", "", "four"), rec("upstreams", "u5", "", "one")},
		}, "upstreams", "one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Apply(context.Background(), tc.batch)
			wantConflict(t, err, tc.kind, tc.key)
			expect(t, s, base...)
		})
	}
}

func testKeyConflictInsideBatch(t *testing.T, s upstreams.Store) {
	err := s.Apply(context.Background(), puts(
		rec("upstreams", "u1", "", "k"),
		rec("targets", "t1", "u1", "k"), // other kind: fine
		rec("upstreams", "u2", "", "k"),
	))
	wantConflict(t, err, "upstreams", "k")
	expect(t, s)
}

func testSameKeyAcrossKinds(t *testing.T, s upstreams.Store) {
	recs := []upstreams.Record{rec("upstreams", "u1", "", "k"), rec("services", "s1", "", "k")}
	apply(t, s, puts(recs[0]))
	apply(t, s, puts(recs[1]))
	expect(t, s, recs...)
}

func testRePutWithOwnKey(t *testing.T, s upstreams.Store) {
	u1 := rec("upstreams", "u1", "", "k")
	apply(t, s, puts(u1))
	apply(t, s, puts(u1))
	apply(t, s, puts(u1, u1)) // twice in one batch
	u1.Data = json.RawMessage(`{"v":2}`)
	apply(t, s, puts(u1))
	expect(t, s, u1)
}

func testKeyChangeFreesOldKey(t *testing.T, s upstreams.Store) {
	apply(t, s, puts(rec("upstreams", "u1", "", "a")))
	apply(t, s, puts(rec("upstreams", "u1", "", "b")))
	apply(t, s, puts(rec("upstreams", "u2", "", "a")))
	// within one batch: rename first, then reuse
	apply(t, s, puts(rec("upstreams", "u1", "", "c"), rec("upstreams", "u3", "", "b")))
	// dropping the key altogether frees it too
	apply(t, s, puts(rec("upstreams", "u2", "", "")))
	apply(t, s, puts(rec("upstreams", "u4", "", "a")))
	expect(t, s,
		rec("upstreams", "u1", "", "c"),
		rec("upstreams", "u2", "", ""),
		rec("upstreams", "u3", "", "b"),
		rec("upstreams", "u4", "", "a"))
	err := s.Apply(context.Background(), puts(rec("upstreams", "u1", "", "b")))
	wantConflict(t, err, "upstreams", "b")
}

func testDeleteMissing(t *testing.T, s upstreams.Store) {
	apply(t, s, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "nope"}}})
	u1 := rec("upstreams", "u1", "", "k")
	apply(t, s, upstreams.Batch{
		Delete: []upstreams.RecordRef{{Kind: "targets", ID: "nope"}, {Kind: "nokind", ID: "u1"}},
		Put:    []upstreams.Record{u1},
	})
	expect(t, s, u1)
	// deleting twice is fine
	apply(t, s, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u1"}}})
	apply(t, s, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u1"}}})
	expect(t, s)
}

func testDeletesApplyBeforePuts(t *testing.T, s upstreams.Store) {
	apply(t, s, puts(rec("upstreams", "u1", "", "k")))
	u2 := rec("upstreams", "u2", "", "k")
	apply(t, s, upstreams.Batch{
		Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u1"}},
		Put:    []upstreams.Record{u2},
	})
	expect(t, s, u2)
}

func testCascadeDelete(t *testing.T, s upstreams.Store) {
	keep := []upstreams.Record{
		rec("upstreams", "u2", "", "two"),
		rec("targets", "t3", "u2", "u2|c:1"),
	}
	doomed := []upstreams.Record{
		rec("upstreams", "u1", "", "one"),
		rec("targets", "t1", "u1", "u1|a:1"),
		rec("targets", "t2", "u1", "u1|b:1"),
		rec("checks", "c1", "t1", "c1"),  // grandchild
		rec("results", "r1", "c1", "r1"), // great-grandchild
	}
	apply(t, s, puts(append(append([]upstreams.Record{}, doomed...), keep...)...))
	expect(t, s, append(append([]upstreams.Record{}, doomed...), keep...)...)

	apply(t, s, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u1"}}})
	expect(t, s, keep...)

	// the deleted records' keys are free again
	again := []upstreams.Record{rec("upstreams", "u9", "", "one"), rec("targets", "t9", "u9", "u1|a:1")}
	apply(t, s, puts(again...))
	expect(t, s, append(append([]upstreams.Record{}, keep...), again...)...)

	// deleting a child leaves its parent and siblings alone
	apply(t, s, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "targets", ID: "t9"}}})
	expect(t, s, append(append([]upstreams.Record{}, keep...), again[0])...)
}

func testCanceledContext(t *testing.T, s upstreams.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Apply(ctx, puts(rec("upstreams", "u1", "", "k"))); err == nil {
		t.Fatal("Apply with a canceled context succeeded")
	}
	expect(t, s)
}

func testConcurrentApply(t *testing.T, s upstreams.Store) {
	const writers, writes = 50, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				u := fmt.Sprintf("u-%d-%d", w, i)
				b := puts(rec("upstreams", u, "", u), rec("targets", "t-"+u, u, u+"|a:1"))
				if err := s.Apply(context.Background(), b); err != nil {
					errs <- fmt.Errorf("writer %d write %d: %w", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var want []upstreams.Record
	for w := range writers {
		for i := range writes {
			u := fmt.Sprintf("u-%d-%d", w, i)
			want = append(want, rec("upstreams", u, "", u), rec("targets", "t-"+u, u, u+"|a:1"))
		}
	}
	expect(t, s, want...)
}

// testConcurrentKeyRace has 50 writers claim one key: exactly one wins.
func testConcurrentKeyRace(t *testing.T, s upstreams.Store) {
	const writers = 50
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		winners   []string
		conflicts int
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("u%d", w)
			err := s.Apply(context.Background(), puts(rec("upstreams", id, "", "contested")))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, id)
			case errors.Is(err, upstreams.ErrConflict):
				conflicts++
			default:
				t.Errorf("writer %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 || conflicts != writers-1 {
		t.Fatalf("%d winners %v and %d conflicts, want 1 and %d", len(winners), winners, conflicts, writers-1)
	}
	expect(t, s, rec("upstreams", winners[0], "", "contested"))
}

func testDataPreserved(t *testing.T, s upstreams.Store) {
	docs := []string{
		`{}`,
		`[]`,
		`null`,
		`"just a string"`,
		`{"name":"héllo wörld ✓ 日本","tags":["a","b"],"nested":{"deep":[1,2,{"x":null}]}}`,
		`{"escapes":"quote \" backslash \\ tab \t newline \n <html> & \u2028"}`,
		`{"big":12345678901234567890,"neg":-0.5,"exp":1e300,"zero":0,"float":3.14159}`,
		`{"b":true,"a":false,"order":"keys out of order"}`,
		`  { "spaced" : [ 1 , 2 ] }  `,
	}
	var want []upstreams.Record
	for i, d := range docs {
		want = append(want, upstreams.Record{Kind: "docs", ID: fmt.Sprintf("d%d", i), Data: json.RawMessage(d)})
	}
	apply(t, s, puts(want...))
	expect(t, s, want...)
}
