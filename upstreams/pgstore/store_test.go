package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/storetest"
)

func durationOf(d time.Duration) caddy.Duration { return caddy.Duration(d) }

func rec(kind, id, parent, key string) upstreams.Record {
	return upstreams.Record{Kind: kind, ID: id, Parent: parent, Key: key, Data: json.RawMessage(`{"id":"` + id + `"}`)}
}

func put(t *testing.T, s upstreams.Store, recs ...upstreams.Record) {
	t.Helper()
	if err := s.Apply(context.Background(), upstreams.Batch{Put: recs}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func has(t *testing.T, s upstreams.Store, kind, id string) bool {
	t.Helper()
	recs, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, r := range recs {
		if r.Kind == kind && r.ID == id {
			return true
		}
	}
	return false
}

// subscribe runs s.Subscribe until the test ends and counts onChange calls.
func subscribe(t *testing.T, s *Store, onChange func()) *atomic.Int64 {
	t.Helper()
	var calls atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, func() {
			calls.Add(1)
			if onChange != nil {
				onChange()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Subscribe returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Subscribe did not return after its context was canceled")
		}
	})
	return &calls
}

func TestConformance(t *testing.T) {
	dsn := testpg.DSN(t)
	storetest.Run(t, func(t *testing.T) upstreams.Store {
		prefix := testpg.UniquePrefix(t)
		dropTablesAtEnd(t, dsn, prefix)
		return openStore(t, dsn, prefix, 0)
	})
}

func TestMigrations(t *testing.T) {
	dsn := testpg.DSN(t)
	ctx := context.Background()
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	n := newNames(prefix)
	conn := sqlConn(t, dsn)

	t.Run("concurrent first start", func(t *testing.T) {
		const nodes = 4
		var wg sync.WaitGroup
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := &Store{DSN: dsn, TablePrefix: prefix}
				errs[i] = s.Open(ctx)
				s.Close()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}
	})

	t.Run("reopen keeps data and applies nothing twice", func(t *testing.T) {
		s := openStore(t, dsn, prefix, 0)
		put(t, s, rec("upstreams", "u1", "", "one"), rec("targets", "t1", "u1", "u1|a:1"))
		s.Close()
		s = openStore(t, dsn, prefix, 0)
		if !has(t, s, "targets", "t1") {
			t.Fatal("a record written before reopening is gone")
		}
		var count, max int
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*), max(version) FROM %s", n.migrations)).Scan(&count, &max); err != nil {
			t.Fatal(err)
		}
		if count != len(migrations) || max != len(migrations) {
			t.Fatalf("%s has %d rows up to version %d, want %d", n.migrations, count, max, len(migrations))
		}
	})

	t.Run("newer schema is refused", func(t *testing.T) {
		future := len(migrations) + 1
		if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (version, name) VALUES ($1, 'from the future')", n.migrations), future); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE version = $1", n.migrations), future)
		s := &Store{DSN: dsn, TablePrefix: prefix}
		err := s.Open(ctx)
		if err == nil {
			s.Close()
			t.Fatal("Open accepted a schema newer than it knows")
		}
		if !strings.Contains(err.Error(), "newer than this build") {
			t.Fatalf("unclear error: %v", err)
		}
	})
}

// TestUniqueKeyIsEnforcedByTheDatabase writes behind the store's back.
func TestUniqueKeyIsEnforcedByTheDatabase(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	s := openStore(t, dsn, prefix, 0)
	put(t, s, rec("upstreams", "u1", "", "taken"))
	conn := sqlConn(t, dsn)
	_, err := conn.Exec(context.Background(),
		fmt.Sprintf(`INSERT INTO %s (kind, id, key, data, version) VALUES ('upstreams', 'u2', 'taken', '{}', 0)`, s.names.records))
	if !isUniqueViolation(err) {
		t.Fatalf("direct insert of a duplicate key: %v, want a unique violation", err)
	}
}

// TestVersionIsBumpedByEveryWrite checks the cursor other nodes rely on.
func TestVersionIsBumpedByEveryWrite(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	s := openStore(t, dsn, prefix, 0)
	conn := sqlConn(t, dsn)
	version := func() (store, row int64) {
		t.Helper()
		q := fmt.Sprintf(`SELECT (SELECT version FROM %s), coalesce((SELECT max(version) FROM %s), 0)`, s.names.state, s.names.records)
		if err := conn.QueryRow(context.Background(), q).Scan(&store, &row); err != nil {
			t.Fatal(err)
		}
		return store, row
	}
	put(t, s, rec("upstreams", "u1", "", "one"))
	v1, r1 := version()
	put(t, s, rec("upstreams", "u2", "", "two"))
	v2, r2 := version()
	if err := s.Apply(context.Background(), upstreams.Batch{Delete: []upstreams.RecordRef{{Kind: "upstreams", ID: "u2"}}}); err != nil {
		t.Fatal(err)
	}
	v3, _ := version()
	if !(v1 < v2 && v2 < v3 && r1 == v1 && r2 == v2) {
		t.Fatalf("versions: store %d,%d,%d rows %d,%d", v1, v2, v3, r1, r2)
	}
	// a refused batch bumps nothing
	_ = s.Apply(context.Background(), upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u3", "", "one")}})
	if v4, _ := version(); v4 != v3 {
		t.Fatalf("a conflicting batch moved the version from %d to %d", v3, v4)
	}
}

// TestNotifyReachesAnotherNode: a write on A makes B's Subscribe call
// onChange, and B then loads the record.
func TestNotifyReachesAnotherNode(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	a := openStore(t, dsn, prefix, time.Hour)
	b := openStore(t, dsn, prefix, time.Hour) // no resync during the test

	seen := make(chan struct{}, 100)
	calls := subscribe(t, b, func() { seen <- struct{}{} })
	eventually(t, 5*time.Second, "the call after connecting", func() bool { return calls.Load() >= 1 })
	time.Sleep(100 * time.Millisecond) // let the LISTEN settle before draining
	for len(seen) > 0 {
		<-seen
	}

	for i := range 3 {
		start := time.Now()
		id := fmt.Sprintf("u%d", i)
		put(t, a, rec("upstreams", id, "", id))
		select {
		case <-seen:
			t.Logf("write %d reached the other node in %v", i, time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatalf("write %d: no notification within 5 s", i)
		}
		if !has(t, b, "upstreams", id) {
			t.Fatalf("node B does not see %s after the notification", id)
		}
	}
}

// TestSlowSubscriberCoalesces: while onChange is blocked, writes keep
// being acknowledged and their notifications fold into one more call.
func TestSlowSubscriberCoalesces(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	a := openStore(t, dsn, prefix, time.Hour)
	b := openStore(t, dsn, prefix, time.Hour)

	release := make(chan struct{})
	var once sync.Once
	calls := subscribe(t, b, func() { <-release })
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	eventually(t, 5*time.Second, "the first call", func() bool { return calls.Load() >= 1 })

	const writes = 30
	for i := range writes {
		put(t, a, rec("upstreams", fmt.Sprintf("u%d", i), "", ""))
	}
	time.Sleep(300 * time.Millisecond) // let the notifications arrive
	if got := calls.Load(); got != 1 {
		t.Fatalf("%d calls while the first one was blocked", got)
	}
	once.Do(func() { close(release) })
	eventually(t, 5*time.Second, "the pending call", func() bool { return calls.Load() >= 2 })
	time.Sleep(300 * time.Millisecond)
	if got := calls.Load(); got > 3 {
		t.Fatalf("%d calls for %d writes made during one blocked call: not coalesced", got, writes)
	}
}

// TestQuietListenerStaysUsable: after several silent liveness periods
// (wait timed out, ping) the listening connection still delivers.
func TestQuietListenerStaysUsable(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	old := livenessInterval
	livenessInterval = 50 * time.Millisecond
	t.Cleanup(func() { livenessInterval = old })
	a := openStore(t, dsn, prefix, time.Hour)
	b := openStore(t, withParam(t, dsn, "application_name", "pgstore-quiet-"+prefix), prefix, time.Hour)
	calls := subscribe(t, b, nil)
	eventually(t, 5*time.Second, "the call after connecting", func() bool { return calls.Load() >= 1 })
	time.Sleep(400 * time.Millisecond) // several liveness timeouts and pings
	if got := calls.Load(); got != 1 {
		t.Fatalf("%d calls without any write or reconnection, want 1", got)
	}
	put(t, a, rec("upstreams", "u1", "", "one"))
	eventually(t, 5*time.Second, "the notification after quiet periods", func() bool { return calls.Load() >= 2 })
}

func TestResyncCallsPeriodically(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	s := openStore(t, dsn, prefix, 100*time.Millisecond)
	calls := subscribe(t, s, nil)
	eventually(t, 5*time.Second, "three calls without any write", func() bool { return calls.Load() >= 3 })
}

func TestSubscribeEndsWhenStoreCloses(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	s := openStore(t, dsn, prefix, 0)
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(context.Background(), func() {}) }()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Subscribe returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe still running after Close")
	}
	if err := s.Apply(context.Background(), upstreams.Batch{Put: []upstreams.Record{rec("k", "1", "", "")}}); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Apply after Close: %v, want ErrUnavailable", err)
	}
}

// TestConnectionsKilled terminates every connection of a store, as a
// failover or an administrator would: writes go on (the dead pooled
// connections are replaced) and the listener reconnects and calls onChange.
func TestConnectionsKilled(t *testing.T) {
	base := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, base, prefix)
	app := "pgstore-test-" + prefix
	a := openStore(t, base, prefix, time.Hour)
	b := openStore(t, withParam(t, base, "application_name", app), prefix, time.Hour)
	calls := subscribe(t, b, nil)
	eventually(t, 5*time.Second, "the call after connecting", func() bool { return calls.Load() >= 1 })
	put(t, b, rec("upstreams", "before", "", "before")) // the pool has a connection now
	put(t, a, rec("upstreams", "ping", "", "ping"))
	eventually(t, 5*time.Second, "the notification of A's write", func() bool { return calls.Load() >= 2 })

	conn := sqlConn(t, base)
	var killed int
	if err := conn.QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed < 2 {
		t.Fatalf("terminated %d connections, want the listener and at least one pooled one", killed)
	}
	before := calls.Load()
	put(t, b, rec("upstreams", "after", "", "after")) // must not fail: retried on a new connection
	eventually(t, 10*time.Second, "a call after the listener reconnected", func() bool { return calls.Load() > before })

	before = calls.Load()
	put(t, a, rec("upstreams", "from-a", "", "from-a"))
	eventually(t, 5*time.Second, "the notification of A's write after reconnecting", func() bool { return calls.Load() > before })
	if !has(t, b, "upstreams", "from-a") {
		t.Fatal("B does not see A's write")
	}
}

// TestOwnAcknowledgedWritesAreNotNotified: a subscriber is not called for
// the writes its own store acknowledged (the writer has them already),
// only for the others'.
func TestOwnAcknowledgedWritesAreNotNotified(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	a := openStore(t, dsn, prefix, time.Hour)
	b := openStore(t, dsn, prefix, time.Hour)
	calls := subscribe(t, b, nil)
	eventually(t, 5*time.Second, "the call after connecting", func() bool { return calls.Load() >= 1 })
	const writes = 20
	for i := range writes {
		put(t, b, rec("upstreams", fmt.Sprintf("own%d", i), "", ""))
	}
	put(t, a, rec("upstreams", "other", "", ""))
	eventually(t, 5*time.Second, "the notification of the other store's write", func() bool { return calls.Load() >= 2 })
	time.Sleep(200 * time.Millisecond) // let any late notification arrive
	if own := calls.Load() - 2; own != 0 {
		t.Fatalf("%d calls for %d own acknowledged writes, want none", own, writes)
	}
}

// TestDatabaseDown stops and restarts a server of the test's own: writes
// and reads fail with ErrUnavailable while it is down; once it is back the
// listener reconnects and calls onChange by itself, writes succeed, and
// acknowledged writes are all there.
func TestDatabaseDown(t *testing.T) {
	srv := testpg.StartServer(t)
	a := openStore(t, srv.DSN(), "", time.Hour)
	b := openStore(t, srv.DSN(), "", time.Hour)
	calls := subscribe(t, b, nil)
	eventually(t, 5*time.Second, "the call after connecting", func() bool { return calls.Load() >= 1 })
	put(t, a, rec("upstreams", "u1", "", "one"), rec("targets", "t1", "u1", "u1|a:1"))

	srv.Stop(t)
	ctx := context.Background()
	start := time.Now()
	err := a.Apply(ctx, upstreams.Batch{Put: []upstreams.Record{rec("upstreams", "u2", "", "two")}})
	if !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Apply with the database down: %v, want an error wrapping ErrUnavailable", err)
	}
	t.Logf("Apply with the database down failed in %v: %v", time.Since(start), err)
	if _, err := a.Load(ctx); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Load with the database down: %v, want ErrUnavailable", err)
	}
	if err := a.Ping(ctx); !errors.Is(err, upstreams.ErrUnavailable) {
		t.Fatalf("Ping with the database down: %v, want ErrUnavailable", err)
	}
	time.Sleep(500 * time.Millisecond) // let the listener notice and back off
	before := calls.Load()

	srv.Start(t)
	eventually(t, 20*time.Second, "the listener to reconnect and call onChange", func() bool { return calls.Load() > before })
	put(t, a, rec("upstreams", "u2", "", "two"))
	for _, id := range []string{"u1", "u2"} {
		if !has(t, b, "upstreams", id) {
			t.Fatalf("%s is missing after the restart", id)
		}
	}
	if !has(t, b, "targets", "t1") {
		t.Fatal("t1 is missing after the restart")
	}
}

// TestProvision covers the Caddy side: placeholders in the DSN, defaults.
func TestProvision(t *testing.T) {
	dsn := testpg.DSN(t)
	t.Setenv("PGSTORE_TEST_DSN", dsn)
	prefix := testpg.UniquePrefix(t)
	dropTablesAtEnd(t, dsn, prefix)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	s := &Store{DSN: "{env.PGSTORE_TEST_DSN}", TablePrefix: prefix}
	if err := s.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	defer s.Cleanup()
	if time.Duration(s.ResyncInterval) != DefaultResyncInterval {
		t.Errorf("resync_interval defaulted to %v", time.Duration(s.ResyncInterval))
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Name() != "postgres" {
		t.Errorf("Name() = %q", s.Name())
	}
}
