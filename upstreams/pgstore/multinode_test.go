package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
)

// changeLimit bounds the wait for one change to show on the other node: a
// hang guard, not a performance threshold.
const changeLimit = 10 * time.Second

// servedBy reports whether one request through n's proxy at path is
// answered 200 by the backend named name.
func servedBy(n *node, path, name string) func() bool {
	return func() bool {
		status, by := n.get(path)
		return status == 200 && by == name
	}
}

// servedOnlyBy reports whether four requests in a row through n's proxy
// are answered by the backend named name. With two targets of equal
// weight, round-robin alternates, so the other one would answer one of
// them if it were still in rotation.
func servedOnlyBy(n *node, path, name string) func() bool {
	return func() bool {
		for range 4 {
			if status, by := n.get(path); status != 200 || by != name {
				return false
			}
		}
		return true
	}
}

// TestPropagationBetweenNodes makes 100 changes on node A's Admin API —
// target creations, deletions and weight updates, each visible at the
// proxy — and times each one from A's answer until node B's proxy serves
// according to it.
func TestPropagationBetweenNodes(t *testing.T) {
	cl := startCluster(t, testpg.DSN(t), defaultResync)
	a, b := cl.a, cl.b
	const cycles = 25 // of 4 changes
	backends := make([]*testcaddy.Backend, cycles+1)
	for i := range backends {
		backends[i] = testcaddy.StartBackend(t, fmt.Sprintf("backend-%d", i))
	}
	a.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	a.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": backends[0].Addr})
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node B to proxy to the first target", servedBy(b, "/", backends[0].Name))

	timings := map[string][]time.Duration{}
	var writes []time.Duration
	change := func(kind, method, path string, body any, want int, observed func() bool) {
		t.Helper()
		start := time.Now()
		a.must(want, method, path, body)
		writes = append(writes, time.Since(start))
		timings[kind] = append(timings[kind], testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node B's proxy to show the "+kind+" "+method+" "+path, observed))
	}
	answers503 := func() bool { status, _ := b.get("/"); return status == 503 }
	for i := range cycles {
		x, y := backends[i], backends[i+1]
		change("create", "POST", "/upstreams/u/targets", map[string]any{"target": y.Addr}, 201, servedBy(b, "/", y.Name))
		change("delete", "DELETE", "/upstreams/u/targets/"+x.Addr, nil, 204, servedOnlyBy(b, "/", y.Name))
		change("update", "PATCH", "/upstreams/u/targets/"+y.Addr, map[string]any{"weight": 0}, 200, answers503)
		change("update", "PATCH", "/upstreams/u/targets/"+y.Addr, map[string]any{"weight": 100}, 200, servedBy(b, "/", y.Name))
	}

	all := slices.Concat(timings["create"], timings["delete"], timings["update"])
	if len(all) != 4*cycles {
		t.Fatalf("%d changes timed, want %d", len(all), 4*cycles)
	}
	t.Logf("%d changes on node A seen at node B's proxy: %s; creates %s, deletes %s, weight updates %s (A's own answers: %s)",
		len(all), spread(all), spread(timings["create"]), spread(timings["delete"]), spread(timings["update"]), spread(writes))
	last := []string{backends[cycles].Addr}
	for _, n := range []*node{a, b} {
		if got := n.targets("u"); !slices.Equal(got, last) {
			t.Fatalf("node %s lists targets %v, want %v", n.name, got, last)
		}
	}
}

// TestResyncRepairsMissedChanges: a change that reached the database
// without a notification (written behind the nodes' backs) shows at both
// nodes' proxies by the next periodic resync.
func TestResyncRepairsMissedChanges(t *testing.T) {
	const resync = 500 * time.Millisecond
	cl := startCluster(t, testpg.DSN(t), resync)
	x, w := testcaddy.StartBackend(t, "x"), testcaddy.StartBackend(t, "w")
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(cl.a.must(201, "POST", "/upstreams", map[string]any{"name": "u"}), &u); err != nil {
		t.Fatal(err)
	}
	cl.a.must(201, "POST", "/upstreams/u/targets", map[string]any{"target": x.Addr})
	for _, n := range []*node{cl.a, cl.b} {
		testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to proxy to x", servedBy(n, "/", x.Name))
	}
	cl.insertTarget(t, u.ID, w.Addr)
	written := time.Now()
	for _, n := range []*node{cl.a, cl.b} {
		testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to proxy to the target written behind its back", servedBy(n, "/", w.Name))
		t.Logf("node %s proxied to the target written behind its back %v after the write (resync_interval %v)",
			n.name, time.Since(written).Round(time.Millisecond), resync)
	}
}

// spread formats the median, 90th percentile and maximum of durations.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("median %s, p90 %s, max %s (n=%d)", ms(s[len(s)/2]), ms(s[len(s)*9/10]), ms(s[len(s)-1]), len(s))
}

// TestHealthMarksReachEveryNode: a manual unhealthy on node A takes the
// target out of rotation on node B too, and a manual healthy on B brings
// it back on A, as Kong broadcasts these calls to the cluster. Health
// stays per node otherwise: each node's health answer carries its own
// node_id.
func TestHealthMarksReachEveryNode(t *testing.T) {
	cl := startCluster(t, testpg.DSN(t), defaultResync)
	a, b := cl.a, cl.b
	x, y := testcaddy.StartBackend(t, "x"), testcaddy.StartBackend(t, "y")
	// passive checks on: the upstream has a health checker (Kong refuses
	// manual marks without one) yet nothing probes
	a.must(201, "POST", "/upstreams", map[string]any{"name": "h",
		"healthchecks": map[string]any{"passive": map[string]any{"unhealthy": map[string]any{"tcp_failures": 5}}}})
	for _, be := range []*testcaddy.Backend{x, y} {
		a.must(201, "POST", "/upstreams/h/targets", map[string]any{"target": be.Addr})
	}
	for _, n := range []*node{a, b} {
		for _, be := range []*testcaddy.Backend{x, y} {
			testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to proxy to "+be.Name, servedBy(n, "/h/", be.Name))
		}
	}

	start := time.Now()
	a.must(204, "PUT", "/upstreams/h/targets/"+x.Addr+"/unhealthy", nil)
	if !servedOnlyBy(a, "/h/", y.Name)() {
		t.Fatal("node A still proxies to the target it marked unhealthy")
	}
	took := testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node B to stop proxying to the target A marked unhealthy", servedOnlyBy(b, "/h/", y.Name))
	t.Logf("unhealthy on A: out of B's rotation %v after A's answer (%v after the call)", took, time.Since(start))
	idA, healthA := targetHealth(t, a, "h", x.Addr)
	idB, healthB := targetHealth(t, b, "h", x.Addr)
	if healthA != "UNHEALTHY" || healthB != "UNHEALTHY" {
		t.Fatalf("health of %s: %s on A, %s on B; want UNHEALTHY on both", x.Addr, healthA, healthB)
	}
	if idA == "" || idA == idB {
		t.Fatalf("node_id %q on A and %q on B: want two distinct node ids", idA, idB)
	}

	b.must(204, "PUT", "/upstreams/h/targets/"+x.Addr+"/healthy", nil)
	took = testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node A to proxy to the target B marked healthy again", servedBy(a, "/h/", x.Name))
	t.Logf("healthy on B: back in A's rotation %v after B's answer", took)
	if _, h := targetHealth(t, b, "h", x.Addr); h != "HEALTHY" {
		t.Fatalf("health of %s on B after healthy: %s", x.Addr, h)
	}
}

// targetHealth returns the node_id of n's health answer and the health of
// one target in it.
func targetHealth(t *testing.T, n *node, upstream, target string) (nodeID, health string) {
	t.Helper()
	var out struct {
		NodeID string `json:"node_id"`
		Data   []struct {
			Target string `json:"target"`
			Health string `json:"health"`
		} `json:"data"`
	}
	if err := json.Unmarshal(n.must(200, "GET", "/upstreams/"+upstream+"/health", nil), &out); err != nil {
		t.Fatal(err)
	}
	for _, d := range out.Data {
		if d.Target == target {
			return out.NodeID, d.Health
		}
	}
	t.Fatalf("node %s: no target %s in the health of %s", n.name, target, upstream)
	return "", ""
}
