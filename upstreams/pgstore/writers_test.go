package pgstore_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testpg"
)

// race is what concurrent requests for one key answered.
type race struct {
	mu       sync.Mutex
	statuses []int
	bodies   map[int][]string // by status
}

func (r *race) add(status int, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, status)
	if r.bodies == nil {
		r.bodies = map[int][]string{}
	}
	r.bodies[status] = append(r.bodies[status], string(body))
}

// check fails the test unless exactly one request won (201) and every
// other one got the same 409.
func (r *race) check(t *testing.T, what string) {
	t.Helper()
	if len(r.bodies[201]) != 1 || len(r.bodies[409]) != len(r.statuses)-1 {
		t.Fatalf("%s: statuses %v, want one 201 and %d 409s", what, r.statuses, len(r.statuses)-1)
	}
	for _, b := range r.bodies[409] {
		if b != r.bodies[409][0] {
			t.Fatalf("%s: the 409s differ:\n%s\n%s", what, b, r.bodies[409][0])
		}
	}
	t.Logf("%s: one 201, %d × %s", what, len(r.bodies[409]), r.bodies[409][0])
}

// TestConcurrentWritersOnTwoNodes writes on both nodes at once: 50 target
// creations on each, and racing requests from both nodes for one upstream
// name and for one target. Exactly one racer wins each key, and both
// nodes and the database end up with the same entities, none lost, none
// twice.
func TestConcurrentWritersOnTwoNodes(t *testing.T) {
	cl := startCluster(t, testpg.DSN(t), defaultResync)
	a, b := cl.a, cl.b
	a.must(201, "POST", "/upstreams", map[string]any{"name": "u"})
	testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node B to know the upstream", func() bool {
		status, _ := b.call("GET", "/upstreams/u", nil)
		return status == 200
	})

	const perNode, racersPerNode = 50, 5
	var want []string
	var failed sync.Map
	var sameName, sameTarget race
	var wg sync.WaitGroup
	for ni, n := range []*node{a, b} {
		for i := range perNode {
			// loopback addresses nothing listens on: never proxied to
			target := fmt.Sprintf("127.0.0.1:%d", 20000+ni*perNode+i)
			want = append(want, target)
			wg.Go(func() {
				if status, body := n.call("POST", "/upstreams/u/targets", map[string]any{"target": target}); status != 201 {
					failed.Store(target, fmt.Sprintf("node %s: %d %s", n.name, status, body))
				}
			})
		}
		for range racersPerNode {
			wg.Go(func() { sameName.add(n.call("POST", "/upstreams", map[string]any{"name": "contended"})) })
			wg.Go(func() {
				sameTarget.add(n.call("POST", "/upstreams/u/targets", map[string]any{"target": "127.0.0.1:1"}))
			})
		}
	}
	wg.Wait()
	failed.Range(func(k, v any) bool {
		t.Errorf("creating %s: %s", k, v)
		return true
	})
	if t.Failed() {
		t.FailNow()
	}
	sameName.check(t, "the same upstream name from both nodes")
	sameTarget.check(t, "the same target from both nodes")

	want = append(want, "127.0.0.1:1")
	slices.Sort(want)
	for _, n := range []*node{a, b} {
		testcaddy.WaitEvery(t, 2*time.Millisecond, changeLimit, "node "+n.name+" to list every target", func() bool { return slices.Equal(n.targets("u"), want) })
	}
	for _, n := range []*node{a, b} {
		n.must(200, "GET", "/upstreams/contended", nil)
	}
	if got := cl.dbTargets(t); !slices.Equal(got, want) {
		t.Fatalf("the database holds %d targets, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}
