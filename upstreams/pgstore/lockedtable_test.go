package pgstore_test

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/pgstore"
)

// answer is the status and body of an Admin API request.
type answer struct {
	status int
	body   []byte
}

// TestReadsWhileAWriteWaitsForTheDatabase holds the records table locked
// from another connection, so that a node's write waits inside
// PostgreSQL: meanwhile the node's Admin API reads answer from memory and
// its proxy keeps serving, and once the lock is released the write is
// acknowledged, stored and proxied to.
func TestReadsWhileAWriteWaitsForTheDatabase(t *testing.T) {
	dsn := testpg.DSN(t)
	prefix := testpg.UniquePrefix(t)
	pgstore.DropTablesAtEnd(t, dsn, prefix)
	n := startNode(t, "A", true, dsn, prefix, defaultResync)
	cl := &cluster{a: n, dsn: dsn, prefix: prefix}
	x, y := testcaddy.StartBackend(t, "x"), testcaddy.StartBackend(t, "y")
	n.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	n.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": x.Addr})
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "the proxy to serve x", servedBy(n, "/", x.Name))

	ctx := context.Background()
	lock, err := pgstore.SQLConn(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx) //nolint:errcheck // released below; a no-op then
	if _, err := lock.Exec(ctx, "LOCK TABLE "+cl.recordsTable()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var holder int
	if err := lock.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holder); err != nil {
		t.Fatal(err)
	}
	watch := pgstore.SQLConn(t, dsn)
	blocked := func() bool {
		var waiting int
		if err := watch.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		return waiting > 0
	}

	written := make(chan answer, 1)
	go func() {
		status, body := n.call("POST", "/upstreams/u/targets", map[string]any{"target": y.Addr})
		written <- answer{status, body}
	}()
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "the write to wait for the table lock", blocked)

	reads := []string{"/upstreams", "/upstreams/u", "/upstreams/u/targets", "/upstreams/u/targets/" + x.Addr, "/upstreams/u/health", "/status"}
	var took []time.Duration
	for range 5 {
		for _, path := range reads {
			start := time.Now()
			n.must(200, "GET", path, nil)
			took = append(took, time.Since(start))
		}
		start := time.Now()
		if status, backend := n.get("/"); status != 200 || backend != x.Name {
			t.Fatalf("the proxy answered %d from %q while a write waits for the database, want 200 from x", status, backend)
		}
		took = append(took, time.Since(start))
	}
	select {
	case a := <-written:
		t.Fatalf("the write answered %d %s before the table lock was released", a.status, a.body)
	default:
	}
	if !blocked() {
		t.Fatal("the write no longer waits for the table lock, yet it has not answered")
	}
	if got := n.targets("u"); !slices.Equal(got, []string{x.Addr}) {
		t.Fatalf("targets listed while the write waits: %v, want only %s", got, x.Addr)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("while a write waited for the locked table: %d Admin API reads and proxied requests answered, median %v, max %v",
		len(took), took[len(took)/2].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))

	released := time.Now()
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-written:
	case <-time.After(changeLimit):
		t.Fatalf("the write did not answer within %v of the lock's release", changeLimit)
	}
	if a.status != 201 {
		t.Fatalf("the write answered %d %s once the lock was released, want 201", a.status, a.body)
	}
	t.Logf("the write was acknowledged %v after the lock's release", time.Since(released).Round(time.Millisecond))
	want := []string{x.Addr, y.Addr}
	slices.Sort(want)
	if got := n.targets("u"); !slices.Equal(got, want) {
		t.Fatalf("targets listed after the write: %v, want %v", got, want)
	}
	if got := cl.dbTargets(t); !slices.Equal(got, want) {
		t.Fatalf("targets in the database after the write: %v, want %v", got, want)
	}
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "the proxy to serve the written target", servedBy(n, "/", y.Name))
}
