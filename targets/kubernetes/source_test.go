package kubernetes_test

import (
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// TestScaleOneThreeOne scales the Service's pods 1 → 3 → 1 by updating its
// EndpointSlice, as the EndpointSlice controller does, and checks that the
// registry and the proxied traffic follow.
func TestScaleOneThreeOne(t *testing.T) {
	k := newCluster(t)
	a, b, c := k.pod("web-a", 2), k.pod("web-b", 3), k.pod("web-c", 4)
	other := k.pod("db-a", 5)
	k.create(k.slice("web-1", testService, ready(a)))
	k.create(k.slice("db-1", "db", ready(other))) // another Service's slice: never a target
	start := time.Now()
	cd := startCaddy(t)
	t.Logf("config load to first targets: %v", waitTargets(t, start, want(100, a)))
	proxy(t, cd, 6)
	if got := hits(a, b, c); !slices.Equal(got, []int64{6, 0, 0}) {
		t.Fatalf("hits a,b,c = %v, want [6 0 0]", got)
	}

	took := waitTargets(t, k.update(k.slice("web-1", testService, ready(a), ready(b), ready(c))), want(100, a, b, c))
	t.Logf("scale 1→3: EndpointSlice update to registry change: %v", took)
	proxy(t, cd, 30)
	if got := hits(a, b, c); !slices.Equal(got, []int64{16, 10, 10}) {
		t.Fatalf("hits a,b,c = %v, want [16 10 10] (round-robin over 3 equal weights)", got)
	}

	took = waitTargets(t, k.update(k.slice("web-1", testService, ready(b))), want(100, b))
	t.Logf("scale 3→1: EndpointSlice update to registry change: %v", took)
	proxy(t, cd, 6)
	if got := hits(a, b, c); !slices.Equal(got, []int64{16, 16, 10}) {
		t.Fatalf("hits a,b,c = %v, want [16 16 10]", got)
	}
	if other.Hits.Load() != 0 {
		t.Fatalf("the other Service's pod got %d requests", other.Hits.Load())
	}
}

// TestTerminatingEndpointTakesNoNewRequests marks a pod terminating while
// it serves a request: the request finishes, no new request reaches it,
// and not-ready pods never become targets.
func TestTerminatingEndpointTakesNoNewRequests(t *testing.T) {
	k := newCluster(t)
	a, b, idle := k.pod("web-a", 2), k.pod("web-b", 3), k.pod("web-idle", 4)
	k.create(k.slice("web-1", testService, ready(a), ready(b), notReady(idle)))
	cd := startCaddy(t)
	waitTargets(t, time.Now(), want(100, a, b))

	// put one slow request in flight on b
	b.Delay.Store(int64(400 * time.Millisecond))
	type answer struct {
		status int
		body   string
	}
	inFlight := make(chan answer, 4)
	launched := 0
	for ; launched < 4 && b.Hits.Load() == 0; launched++ {
		before := a.Hits.Load()
		go func() {
			status, body := cd.Get(t, "/slow")
			inFlight <- answer{status, body}
		}()
		for deadline := time.Now().Add(2 * time.Second); a.Hits.Load() == before && b.Hits.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	if b.Hits.Load() != 1 {
		t.Fatalf("no request reached b (hits a=%d b=%d)", a.Hits.Load(), b.Hits.Load())
	}
	sentToA := a.Hits.Load()

	took := waitTargets(t, k.update(k.slice("web-1", testService, ready(a), terminating(b), notReady(idle))),
		want(100, a)+" "+want(0, b))
	t.Logf("terminating: EndpointSlice update to registry change: %v", took)
	proxy(t, cd, 20)
	if b.Hits.Load() != 1 || a.Hits.Load() != sentToA+20 {
		t.Fatalf("after b started terminating: hits a=%d b=%d, want a=%d b=1", a.Hits.Load(), b.Hits.Load(), sentToA+20)
	}
	// the request in flight on b finishes normally
	for range launched {
		select {
		case ans := <-inFlight:
			if ans.status != 200 {
				t.Fatalf("in-flight request: status %d, body %q", ans.status, ans.body)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight request did not finish")
		}
	}
	if idle.Hits.Load() != 0 {
		t.Fatalf("not-ready pod got %d requests", idle.Hits.Load())
	}

	// a terminating target is listed with weight 0 and says why
	list, _ := upstreams.ActiveRegistry().Targets(testService)
	tags := map[string][]string{}
	for _, tg := range list {
		tags[tg.Target] = tg.Tags
	}
	wantTags := map[string][]string{a.Addr: {"k8s-pod:web-a"}, b.Addr: {"k8s-pod:web-b", "k8s-terminating"}}
	if !reflect.DeepEqual(tags, wantTags) {
		t.Fatalf("target tags %v, want %v", tags, wantTags)
	}
}

// TestSourceTargetsInAdminAPI lists the source's targets through the Admin
// API with stable ids, shows them in health, and refuses every write to
// them with Kong's 405 "operation unsupported", changing nothing.
func TestSourceTargetsInAdminAPI(t *testing.T) {
	k := newCluster(t)
	a, b := k.pod("web-a", 2), k.pod("web-b", 3)
	k.create(k.slice("web-1", testService, ready(a), ready(b)))
	cd := startCaddy(t)
	waitTargets(t, time.Now(), want(100, a, b))

	u, ok := upstreams.ActiveRegistry().Upstream(testService)
	if !ok {
		t.Fatal("upstream web is not in the registry")
	}
	list := adminJSON(t, cd, "GET", "/kong/upstreams/web/targets", "", http.StatusOK)
	data := list["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("targets: %v", list)
	}
	for _, item := range data {
		tg := item.(map[string]any)
		if tg["id"] != upstreams.SourcedTargetID(u.ID, tg["target"].(string)) || tg["weight"] != 100.0 ||
			tg["upstream"].(map[string]any)["id"] != u.ID {
			t.Fatalf("target %v: want id %s, weight 100, upstream %s", tg, upstreams.SourcedTargetID(u.ID, tg["target"].(string)), u.ID)
		}
		if _, has := tg["source"]; has {
			t.Fatalf("target %v has a field that is not Kong's", tg)
		}
	}
	if again := adminJSON(t, cd, "GET", "/kong/upstreams/web/targets", "", http.StatusOK); !reflect.DeepEqual(again, list) {
		t.Fatalf("second list differs:\n%v\n%v", list, again)
	}
	if all := adminJSON(t, cd, "GET", "/kong/upstreams/web/targets/all", "", http.StatusOK); len(all["data"].([]any)) != 2 {
		t.Fatalf("targets/all: %v", all)
	}
	first := data[0].(map[string]any)
	if got := adminJSON(t, cd, "GET", "/kong/upstreams/web/targets/"+first["id"].(string), "", http.StatusOK); got["target"] != first["target"] {
		t.Fatalf("GET by id: %v, want %v", got, first)
	}
	health := adminJSON(t, cd, "GET", "/kong/upstreams/web/health", "", http.StatusOK)
	if hd := health["data"].([]any); len(hd) != 2 || hd[0].(map[string]any)["health"] != "HEALTHCHECKS_OFF" {
		t.Fatalf("health: %v", health)
	}
	if up := adminJSON(t, cd, "GET", "/kong/upstreams/web", "", http.StatusOK); up["source"] != nil {
		t.Fatalf("the upstream shows its source: %v", up)
	}

	writes := []struct{ method, path, body, message string }{
		{"POST", "/kong/upstreams/web/targets", `{"target":"127.0.0.9:80"}`,
			"cannot create 'targets' entities in upstream 'web': its targets are managed by the kubernetes source (Service shop/web, port http)"},
		{"PATCH", "/kong/upstreams/web/targets/" + a.Addr, `{"weight":5}`,
			"cannot update target '" + a.Addr + "' of upstream 'web': it is managed by the kubernetes source (Service shop/web, port http)"},
		{"PUT", "/kong/upstreams/web/targets/" + first["id"].(string), `{"weight":5}`,
			"cannot update target '" + first["target"].(string) + "' of upstream 'web': it is managed by the kubernetes source (Service shop/web, port http)"},
		{"DELETE", "/kong/upstreams/web/targets/" + b.Addr, "",
			"cannot remove target '" + b.Addr + "' of upstream 'web': it is managed by the kubernetes source (Service shop/web, port http)"},
	}
	for _, w := range writes {
		got := adminJSON(t, cd, w.method, w.path, w.body, http.StatusMethodNotAllowed)
		wantBody := map[string]any{"code": 12.0, "name": "operation unsupported", "message": w.message}
		if !reflect.DeepEqual(got, wantBody) {
			t.Fatalf("%s %s: %v, want %v", w.method, w.path, got, wantBody)
		}
	}
	if after := adminJSON(t, cd, "GET", "/kong/upstreams/web/targets", "", http.StatusOK); !reflect.DeepEqual(after, list) {
		t.Fatalf("targets changed by refused writes:\n%v\n%v", list, after)
	}
	proxy(t, cd, 4)
	if a.Hits.Load() != 2 || b.Hits.Load() != 2 {
		t.Fatalf("hits a=%d b=%d, want 2/2", a.Hits.Load(), b.Hits.Load())
	}
}

// TestSourceTargetsAreHealthChecked runs health checks on source targets:
// a manual mark applies and active checks undo it, and a pod that stops
// answering leaves the rotation and shows UNHEALTHY.
func TestSourceTargetsAreHealthChecked(t *testing.T) {
	k := newCluster(t)
	a, b := k.pod("web-a", 2), k.pod("web-b", 3)
	k.create(k.slice("web-1", testService, ready(a), ready(b)))
	cd := startCaddy(t, strings.ReplaceAll(`healthchecks {
	active {
		type tcp
		healthy {
			interval 0.1
			successes 1
		}
		unhealthy {
			interval 0.1
			tcp_failures 1
		}
	}
}`, "\n", "\n\t\t\t"))
	waitTargets(t, time.Now(), want(100, a, b))
	// a manual mark is node-local health, not a write to the target: allowed
	if status, body := cd.Admin(t, "PUT", "/kong/upstreams/web/targets/"+a.Addr+"/unhealthy", "", nil); status != http.StatusNoContent {
		t.Fatalf("marking a source target unhealthy: %d %s", status, body)
	}
	if h := healthOf(t, cd, a.Addr); h != "UNHEALTHY" {
		t.Fatalf("a is %s right after the manual mark", h)
	}
	marked := time.Now()
	waitHealth(t, cd, a.Addr, "HEALTHY") // the active check brings it back
	t.Logf("manually unhealthy pod back to HEALTHY after %v", time.Since(marked))

	b.Close()
	killed := time.Now()
	waitHealth(t, cd, b.Addr, "UNHEALTHY")
	t.Logf("stopped pod marked UNHEALTHY after %v", time.Since(killed))
	before := a.Hits.Load()
	proxy(t, cd, 10)
	if a.Hits.Load() != before+10 {
		t.Fatalf("a got %d of 10 requests with b down", a.Hits.Load()-before)
	}
}

// TestSourceStopsWithItsConfig checks that the source's goroutines end,
// and its targets go, when a reload drops the source, and that Caddy's
// stop ends them too.
func TestSourceStopsWithItsConfig(t *testing.T) {
	k := newCluster(t)
	a := k.pod("web-a", 2)
	k.create(k.slice("web-1", testService, ready(a)))
	db := t.TempDir() + "/registry.db"
	cd := testcaddy.New(t)
	cd.Load(t, sourceConfig, "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, a))
	if n := sourceGoroutines(); n == 0 {
		t.Fatal("no source goroutine while the source runs")
	}

	// the same upstream without a source: the source stops, its targets go
	cd.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		upstream web
	}
}
`, "{DB}", db)
	waitTargets(t, time.Now(), "")
	waitNoSourceGoroutines(t)

	cd.Load(t, sourceConfig, "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, a))
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	waitNoSourceGoroutines(t)
}

// TestReloadKeepsSourceTargets reloads the same config: the upstream keeps
// its source targets throughout, so no request fails.
func TestReloadKeepsSourceTargets(t *testing.T) {
	k := newCluster(t)
	a := k.pod("web-a", 2)
	k.create(k.slice("web-1", testService, ready(a)))
	db := t.TempDir() + "/registry.db"
	cd := testcaddy.New(t)
	cd.Load(t, sourceConfig, "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, a))
	for i := 0; i < 3; i++ {
		cd.Load(t, sourceConfig, "{DB}", db, "{FIELDS}", fields(fmt.Sprintf("tags reload-%d", i)))
		if got := targetWeights(); got != want(100, a) {
			t.Fatalf("reload %d: targets %q right after the load", i, got)
		}
		proxy(t, cd, 2)
	}
}

// adminJSON sends a request to the Admin API on Caddy's admin endpoint,
// checks the status and decodes the JSON answer.
func adminJSON(t *testing.T, c *testcaddy.Caddy, method, path, body string, status int) map[string]any {
	t.Helper()
	return c.AdminJSON(t, method, path, body, status)
}

// healthOf returns the health the Admin API shows for a target address.
func healthOf(t *testing.T, c *testcaddy.Caddy, addr string) string {
	t.Helper()
	for _, item := range adminJSON(t, c, "GET", "/kong/upstreams/web/health", "", http.StatusOK)["data"].([]any) {
		if tg := item.(map[string]any); tg["target"] == addr {
			return tg["health"].(string)
		}
	}
	return "absent"
}

// waitHealth waits (5 s at most) until the Admin API shows a target
// address with the given health.
func waitHealth(t *testing.T, c *testcaddy.Caddy, addr, health string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for got := healthOf(t, c, addr); got != health; got = healthOf(t, c, addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", addr, got, health)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sourceGoroutines counts the goroutines running a source or client-go's
// informer machinery.
func sourceGoroutines() int {
	buf := make([]byte, 1<<22)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "k8s.io/client-go/") || strings.Contains(g, "caddy-upstreams/targets/kubernetes.(*Source)") ||
			strings.Contains(g, "(*Registry).startSource") {
			count++
		}
	}
	return count
}

// waitNoSourceGoroutines waits (5 s at most) for every source goroutine
// to end.
func waitNoSourceGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sourceGoroutines() > 0 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d source goroutines left:\n%s", sourceGoroutines(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
