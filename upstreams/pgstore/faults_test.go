package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
)

// outage is how long the database stays down in TestDatabaseDownAndBack
// (at least; refused writes may stretch it).
const outage = time.Second

// recoveryLimit bounds the wait for the nodes to reconnect (their
// listeners back off up to 2 s between attempts): a hang guard.
const recoveryLimit = 30 * time.Second

// traffic sends requests through the nodes' proxies, two clients per node,
// until stopped (or a bound on the count is reached).
type traffic struct {
	stop           chan struct{}
	once           sync.Once
	wg             sync.WaitGroup
	served, failed atomic.Int64
}

func startTraffic(nodes ...*node) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	for _, n := range nodes {
		for range 2 {
			tr.wg.Go(func() {
				for range 1_000_000 {
					select {
					case <-tr.stop:
						return
					default:
					}
					if status, _ := n.get("/"); status == 200 {
						tr.served.Add(1)
					} else {
						tr.failed.Add(1)
					}
				}
			})
		}
	}
	return tr
}

// end stops the traffic and waits for it; it may be called more than once.
func (tr *traffic) end() {
	tr.once.Do(func() { close(tr.stop) })
	tr.wg.Wait()
}

// writers create targets (weight 0: never proxied to) of the upstream "w"
// through the nodes' Admin APIs, one after another on each node, until
// stopped, and remember the answers.
type writers struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup

	mu      sync.Mutex
	acked   []string // 201
	refused []string // 503: the client cannot know whether it was applied
	other   []string // anything else: a failure
}

func startWriters(nodes ...*node) *writers {
	w := &writers{stop: make(chan struct{})}
	for ni, n := range nodes {
		w.wg.Go(func() {
			for i := range 10_000 {
				select {
				case <-w.stop:
					return
				default:
				}
				target := fmt.Sprintf("127.0.0.1:%d", 30000+ni*10_000+i)
				status, body := n.call("POST", "/upstreams/w/targets", map[string]any{"target": target, "weight": 0})
				w.mu.Lock()
				switch status {
				case 201:
					w.acked = append(w.acked, target)
				case 503:
					w.refused = append(w.refused, target)
				default:
					w.other = append(w.other, fmt.Sprintf("node %s: %s: %d %s", n.name, target, status, body))
				}
				w.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	return w
}

// end stops the writers and waits for them; it may be called more than once.
func (w *writers) end() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// check fails the test unless every acknowledged creation is in listed,
// and everything listed was acknowledged or refused with a 503 (whose
// outcome the client cannot know).
func (w *writers) check(t *testing.T, where string, listed []string) {
	t.Helper()
	if len(w.other) > 0 {
		t.Fatalf("writes around the outage answered neither 201 nor 503: %v", w.other)
	}
	for _, a := range w.acked {
		if !slices.Contains(listed, a) {
			t.Fatalf("%s: the acknowledged target %s is lost", where, a)
		}
	}
	for _, l := range listed {
		if !slices.Contains(w.acked, l) && !slices.Contains(w.refused, l) {
			t.Fatalf("%s: target %s was never written", where, l)
		}
	}
}

// TestDatabaseDownAndBack stops PostgreSQL under traffic through both
// nodes' proxies and writes through both Admin APIs: the proxies keep
// serving every request from their last snapshot, writes on either node
// answer Kong's 503 database error and change nothing, reads answer from
// the snapshot. Once the database is back, both nodes reconnect by
// themselves: a write on one node shows at the other's proxy, no
// acknowledged write is lost, and both nodes agree with the database.
func TestDatabaseDownAndBack(t *testing.T) {
	srv := testpg.StartServer(t)
	cl := startCluster(t, srv.DSN(), defaultResync)
	a, b := cl.a, cl.b
	x, y, z := testcaddy.StartBackend(t, "x"), testcaddy.StartBackend(t, "y"), testcaddy.StartBackend(t, "z")
	// passive checks on, so that manual marks are accepted; nothing counts
	// (no registry transport)
	a.must(201, "POST", "/upstreams", map[string]any{"name": "u",
		"healthchecks": map[string]any{"passive": map[string]any{"unhealthy": map[string]any{"tcp_failures": 5}}}})
	a.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": x.Addr})
	a.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": y.Addr})
	a.must(201, "POST", "/upstreams", map[string]any{"name": "w"})
	for _, n := range []*node{a, b} {
		for _, be := range []*testcaddy.Backend{x, y} {
			testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to proxy to "+be.Name, servedBy(n, "/", be.Name))
		}
	}
	before := []string{x.Addr, y.Addr}
	slices.Sort(before)

	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node B to know the upstream w", func() bool {
		status, _ := b.call("GET", "/upstreams/w", nil)
		return status == 200
	})
	tr := startTraffic(a, b)
	defer tr.end()
	wr := startWriters(a, b)
	defer wr.end()
	time.Sleep(100 * time.Millisecond) // a few writes before the stop
	srv.Stop(t)
	down := time.Now()
	for _, n := range []*node{a, b} {
		writes := []struct {
			method, path string
			body         any
		}{
			{"POST", "/upstreams/u/targets", map[string]any{"target": z.Addr}},
			{"PATCH", "/upstreams/u/targets/" + x.Addr, map[string]any{"weight": 5}},
			{"DELETE", "/upstreams/u/targets/" + y.Addr, nil},
			{"POST", "/upstreams", map[string]any{"name": "other"}},
			// a manual mark cannot reach the other node: refused, so that
			// the nodes do not disagree
			{"PUT", "/upstreams/u/targets/" + x.Addr + "/unhealthy", nil},
		}
		for _, w := range writes {
			status, body := n.call(w.method, w.path, w.body)
			checkDatabaseError(t, n.name+": "+w.method+" "+w.path+" with the database down", status, body)
		}
		readStart := time.Now()
		if got := n.targets("u"); !slices.Equal(got, before) {
			t.Fatalf("node %s lists %v with the database down, want %v", n.name, got, before)
		}
		t.Logf("node %s: a read with the database down (and writes failing meanwhile) answered in %v", n.name, time.Since(readStart).Round(time.Millisecond))
		if n.databaseReachable() {
			t.Fatalf("node %s: GET /status says the database is reachable while it is down", n.name)
		}
		var u struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(n.must(200, "GET", "/upstreams/u", nil), &u); u.Name != "u" {
			t.Fatalf("node %s: GET /upstreams/u with the database down answered %+v", n.name, u)
		}
	}
	time.Sleep(time.Until(down.Add(outage)))
	servedDown, failedDown := tr.served.Load(), tr.failed.Load()
	srv.Start(t)
	back := time.Now()
	t.Logf("database down %v; meanwhile the proxies served %d requests, %d failed", back.Sub(down).Round(time.Millisecond), servedDown, failedDown)

	var recovered time.Duration
	testcaddy.WaitEvery(t, 2*time.Millisecond, recoveryLimit, "a write on node A to succeed after the restart", func() bool {
		status, body := a.call("POST", "/upstreams/u/targets", map[string]any{"target": z.Addr})
		switch status {
		case 201:
			recovered = time.Since(back)
			return true
		case 503:
			return false
		}
		t.Fatalf("write on A while the database comes back: %d %s, want 201 or 503", status, body)
		return false
	})
	seen := testcaddy.WaitEvery(t, 2*time.Millisecond, recoveryLimit, "node B's proxy to serve the target written on A after the restart", servedBy(b, "/", z.Name))
	t.Logf("after the restart: A's first write succeeded %v later, B's proxy served it %v after that (%v after the restart)",
		recovered.Round(time.Millisecond), seen.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	b.must(200, "PATCH", "/upstreams/u/targets/"+x.Addr, map[string]any{"weight": 7})
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node A to see the weight written on B", func() bool {
		var tg struct {
			Weight int `json:"weight"`
		}
		return json.Unmarshal(a.must(200, "GET", "/upstreams/u/targets/"+x.Addr, nil), &tg) == nil && tg.Weight == 7
	})

	wr.end()
	tr.end()
	if n := tr.failed.Load(); n > 0 {
		t.Fatalf("%d of %d proxied requests failed around the outage", n, n+tr.served.Load())
	}
	t.Logf("proxied requests around the outage: %d, all served", tr.served.Load())

	// every acknowledged write is there, none of the refused ones
	after := append(slices.Clone(before), z.Addr)
	slices.Sort(after)
	for _, n := range []*node{a, b} {
		if got := n.targets("u"); !slices.Equal(got, after) {
			t.Fatalf("node %s lists %v, want %v", n.name, got, after)
		}
		if !n.databaseReachable() {
			t.Fatalf("node %s: GET /status says the database is unreachable after the restart", n.name)
		}
		if status, _ := n.call("GET", "/upstreams/other", nil); status != 404 {
			t.Fatalf("node %s: the upstream refused with the database down exists (%d)", n.name, status)
		}
	}
	var listed []string
	for _, n := range []*node{a, b} {
		testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to list the targets of w the database holds", func() bool {
			listed = n.targets("w")
			db := slices.DeleteFunc(cl.dbTargets(t), func(s string) bool { return slices.Contains(after, s) })
			return slices.Equal(listed, db)
		})
		wr.check(t, "node "+n.name, listed)
	}
	t.Logf("writes through both Admin APIs around the outage: %d acknowledged (none lost), %d refused with a 503 (%d of them applied after all)",
		len(wr.acked), len(wr.refused), len(listed)-len(wr.acked))
}

// databaseReachable is database.reachable of the node's GET /status.
func (n *node) databaseReachable() bool {
	n.t.Helper()
	var st struct {
		Database struct {
			Reachable bool `json:"reachable"`
		} `json:"database"`
	}
	if err := json.Unmarshal(n.must(200, "GET", "/status", nil), &st); err != nil {
		n.t.Fatal(err)
	}
	return st.Database.Reachable
}

// checkDatabaseError fails the test unless a write answered Kong's 503
// database error.
func checkDatabaseError(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	var e struct {
		Code    int    `json:"code"`
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if status != 503 || json.Unmarshal(body, &e) != nil || e.Code != 8 || e.Name != "database error" || e.Message == "" {
		t.Fatalf("%s: %d %s, want 503 with Kong's database error (code 8)", what, status, body)
	}
}
