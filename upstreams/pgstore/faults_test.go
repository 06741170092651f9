package pgstore_test

import (
	"encoding/json"
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

// TestDatabaseDownAndBack stops PostgreSQL under traffic through both
// nodes' proxies: the proxies keep serving every request from their last
// snapshot, writes on either node answer Kong's 503 database error and
// change nothing, reads answer from the snapshot. Once the database is
// back, both nodes reconnect by themselves: a write on one node shows at
// the other's proxy, and the stores agree with the database.
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
	for _, n := range []*node{a, b} {
		for _, be := range []*testcaddy.Backend{x, y} {
			await(t, changeLimit, "node "+n.name+" to proxy to "+be.Name, servedBy(n, "/", be.Name))
		}
	}
	before := []string{x.Addr, y.Addr}
	slices.Sort(before)

	tr := startTraffic(a, b)
	defer tr.end()
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
		if got := n.targets("u"); !slices.Equal(got, before) {
			t.Fatalf("node %s lists %v with the database down, want %v", n.name, got, before)
		}
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
	await(t, recoveryLimit, "a write on node A to succeed after the restart", func() bool {
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
	seen := await(t, recoveryLimit, "node B's proxy to serve the target written on A after the restart", servedBy(b, "/", z.Name))
	t.Logf("after the restart: A's first write succeeded %v later, B's proxy served it %v after that (%v after the restart)",
		recovered.Round(time.Millisecond), seen.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	b.must(200, "PATCH", "/upstreams/u/targets/"+x.Addr, map[string]any{"weight": 7})
	await(t, changeLimit, "node A to see the weight written on B", func() bool {
		var tg struct {
			Weight int `json:"weight"`
		}
		return json.Unmarshal(a.must(200, "GET", "/upstreams/u/targets/"+x.Addr, nil), &tg) == nil && tg.Weight == 7
	})

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
	if got := cl.dbTargets(t); !slices.Equal(got, after) {
		t.Fatalf("the database holds %v, want %v", got, after)
	}
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
