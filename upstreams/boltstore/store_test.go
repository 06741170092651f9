package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s := new(Store)
	if err := s.Open(path); err != nil {
		t.Fatal(err)
	}
	return s
}

func rec(kind, id, parent, key string) upstreams.Record {
	return upstreams.Record{Kind: kind, ID: id, Parent: parent, Key: key, Data: []byte(`{"id":"` + id + `"}`)}
}

func load(t *testing.T, s *Store) map[string]upstreams.Record {
	t.Helper()
	recs, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]upstreams.Record{}
	for _, r := range recs {
		out[r.Kind+"/"+r.ID] = r
	}
	return out
}

func TestWritesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	s := open(t, path)
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u1", "", "one"), rec("targets", "t1", "u1", "u1|a:1")}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	got := load(t, s)
	if len(got) != 2 || got["targets/t1"].Parent != "u1" || got["upstreams/u1"].Key != "one" {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestBatchIsAtomicAndKeysAreUnique(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	ctx := context.Background()
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u1", "", "one")}}); err != nil {
		t.Fatal(err)
	}
	err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u2", "", "two"), rec("upstreams", "u3", "", "one")}})
	var ce *upstreams.ConflictError
	if !errors.Is(err, upstreams.ErrConflict) || !errors.As(err, &ce) || ce.Key != "one" {
		t.Fatalf("conflicting batch: %v", err)
	}
	if got := load(t, s); len(got) != 1 {
		t.Fatalf("a failed batch left %d records, want 1", len(got))
	}
	// renaming frees the old key; the same key in another kind is fine
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u1", "", "uno"), rec("upstreams", "u2", "", "one"), rec("services", "s1", "", "one")}}); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteCascadesToChildren(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "s.db"))
	defer s.Close()
	ctx := context.Background()
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{
		rec("upstreams", "u1", "", "one"), rec("targets", "t1", "u1", "u1|a:1"), rec("targets", "t2", "u1", "u1|b:1"),
		rec("upstreams", "u2", "", "two"), rec("targets", "t3", "u2", "u2|a:1"),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u1"}, {Kind: "upstreams", ID: "missing"}}}); err != nil {
		t.Fatal(err)
	}
	got := load(t, s)
	if len(got) != 2 || got["targets/t3"].ID == "" {
		t.Fatalf("after cascade: %+v", got)
	}
	// the deleted target's key is free again
	if err := s.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("targets", "t4", "u2", "u1|a:1")}}); err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenOfALockedFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	defer s.Close()
	err := new(Store).Open(path)
	if err == nil {
		t.Fatal("a second open of a locked file succeeded")
	}
	t.Log(err)
}
