package kubernetes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testk8s"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// TestScaleOneThreeOne scales a Deployment 1 → 3 → 1 through its scale
// subresource, as `kubectl scale` does, and checks that the registry and
// the proxied traffic follow the EndpointSlices the real controllers
// write: new pods take their share, pods removed by the scale-down
// terminate (weight 0, no new request, none failed) and then go.
func TestScaleOneThreeOne(t *testing.T) {
	k := newCluster(t)
	servers := k.serve("web")
	dbServers := k.serve("db")
	first := k.deploy("web", 1, 2*time.Second)
	k.deploy("db", 1, 0) // another Service's pod: never a target
	start := time.Now()
	cd := k.startCaddy()
	t.Logf("config load to first targets: %v", waitTargets(t, start, want(100, first...)))
	if got := proxy(t, cd, 6); got[first[0].Name] != 6 {
		t.Fatalf("answers %v, want 6 from %s", got, first[0].Name)
	}

	scaled := k.plane.Scale(t, k.ns, "web", 3)
	var onNewPod time.Duration
	for deadline := scaled.Add(30 * time.Second); onNewPod == 0; {
		if podOf(t, cd, "/") != first[0].Name {
			onNewPod = time.Since(scaled)
		} else if time.Now().After(deadline) {
			t.Fatal("no request reached a new pod within 30 s of the scale to 3")
		}
	}
	t.Logf("scale 1→3: scale call returned → first proxied request answered by a new pod: %v", onNewPod)
	three := k.plane.WaitReadyPods(t, k.ns, "app=web", 3)
	t.Logf("scale 1→3: scale call returned → 3 targets: %v", waitTargets(t, scaled, want(100, three...)))
	got := proxy(t, cd, 30)
	for _, name := range names(three...) {
		if got[name] != 10 {
			t.Fatalf("answers %v, want 10 from each of %v (round-robin over 3 equal weights)", got, names(three...))
		}
	}

	// scale down with requests flowing: none may fail
	var (
		mu       sync.Mutex
		answers  []string // pod names, in order
		answered []time.Time
	)
	load := testcaddy.StartLoad(t, 1, func() error {
		resp, err := testcaddy.Client.Get(fmt.Sprintf("http://127.0.0.1:%d/", cd.HTTPPort))
		if err != nil {
			return err
		}
		resp.Body.Close()
		mu.Lock()
		answers = append(answers, resp.Header.Get(testk8s.HeaderPodName))
		answered = append(answered, time.Now())
		mu.Unlock()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	scaled = k.plane.Scale(t, k.ns, "web", 1)
	survivor := k.plane.WaitReadyPods(t, k.ns, "app=web", 1)
	var removed []string
	for _, name := range names(three...) {
		if name != survivor[0].Name {
			removed = append(removed, name)
		}
	}
	terminating := wantMixed(survivor, without(three, survivor[0].Name))
	t.Logf("scale 3→1: scale call returned → removed pods' targets at weight 0: %v", waitTargets(t, scaled, terminating))
	t.Logf("scale 3→1: scale call returned → removed pods' targets gone: %v", waitTargets(t, scaled, want(100, survivor...)))
	servers.WaitServing(t, 1)
	sent, failed := load.Stop()
	if failed > 0 {
		t.Fatalf("%d of %d requests failed during the scale-down: %v", failed, sent, load.Failures())
	}
	var lastOnRemoved time.Time
	for i, name := range answers {
		if slices.Contains(removed, name) && answered[i].After(lastOnRemoved) {
			lastOnRemoved = answered[i]
		}
	}
	if !lastOnRemoved.IsZero() {
		t.Logf("scale 3→1: scale call returned → last request answered by a removed pod: %v (%d requests, none failed)",
			lastOnRemoved.Sub(scaled), len(answers))
	} else {
		t.Logf("scale 3→1: no request reached a removed pod after the scale call (%d requests, none failed)", len(answers))
	}
	if got := proxy(t, cd, 6); got[survivor[0].Name] != 6 {
		t.Fatalf("answers %v, want 6 from the survivor %s", got, survivor[0].Name)
	}
	for name, n := range dbServers.Hits() {
		if n != 0 {
			t.Fatalf("the other Service's pod %s got %d requests", name, n)
		}
	}
}

// TestTerminatingEndpointTakesNoNewRequests deletes a pod while it serves
// a request: the request finishes, no new request reaches the pod while
// it terminates, and a pod whose readiness fails is no target.
func TestTerminatingEndpointTakesNoNewRequests(t *testing.T) {
	k := newCluster(t)
	servers := k.serve("web")
	pods := k.deploy("web", 3, 3*time.Second)
	servers.WaitServing(t, 3)
	a, b, idle := pods[0], pods[1], pods[2]
	k.orphan("web") // b's deletion below must not bring a replacement pod
	k.failReadiness(idle)
	cd := k.startCaddy()
	waitTargets(t, time.Now(), want(100, a, b))

	// two slow requests in flight: round-robin puts one on each pod
	type answer struct {
		status int
		body   string
	}
	inFlight := make(chan answer, 2)
	for range 2 {
		go func() {
			status, body := cd.Get(t, "/slow?sleep=1s")
			inFlight <- answer{status, body}
		}()
	}
	testcaddy.WaitFor(t, 5*time.Second, "a request in flight on each pod", func() bool {
		h := servers.Hits()
		return h[a.Name] == 1 && h[b.Name] == 1
	})

	took := waitTargets(t, k.deletePod(b.Name), wantMixed([]corev1.Pod{a}, []corev1.Pod{b}))
	t.Logf("pod deletion → its target at weight 0: %v", took)
	if got := proxy(t, cd, 20); got[a.Name] != 20 {
		t.Fatalf("while b terminates: answers %v, want 20 from %s", got, a.Name)
	}
	for range 2 {
		select {
		case ans := <-inFlight:
			if ans.status != 200 || !strings.Contains(ans.body, "/slow") {
				t.Fatalf("in-flight request: status %d, body %q", ans.status, ans.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("in-flight request did not finish")
		}
	}
	if hits := servers.Hits(); hits[idle.Name] != 0 {
		t.Fatalf("the not-ready pod got %d requests", hits[idle.Name])
	}

	// a terminating target is listed with weight 0 and says why
	list, _ := upstreams.ActiveRegistry().Targets(testService)
	tags := map[string][]string{}
	for _, tg := range list {
		tags[tg.Target] = tg.Tags
	}
	node := "k8s-node:" + testk8s.NodeName
	wantTags := map[string][]string{
		addr(a): {"k8s-pod:" + a.Name, node},
		addr(b): {"k8s-pod:" + b.Name, node, "k8s-terminating"},
	}
	if !reflect.DeepEqual(tags, wantTags) {
		t.Fatalf("target tags %v, want %v", tags, wantTags)
	}
	t.Logf("pod deletion → its target gone (delete delay 3 s): %v", waitTargets(t, time.Now(), want(100, a)))
}

// TestSourceTargetsInAdminAPI lists the source's targets through the Admin
// API with stable ids, shows them in health, and refuses every write to
// them with Kong's 405 "operation unsupported", changing nothing.
func TestSourceTargetsInAdminAPI(t *testing.T) {
	k := newCluster(t)
	servers := k.serve("web")
	pods := k.deploy("web", 2, 0)
	servers.WaitServing(t, 2)
	a, b := pods[0], pods[1]
	cd := k.startCaddy()
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

	source := "the kubernetes source (Service " + k.ns + "/web, port http)"
	writes := []struct{ method, path, body, message string }{
		{"POST", "/kong/upstreams/web/targets", `{"target":"127.0.0.9:80"}`,
			"cannot create 'targets' entities in upstream 'web': its targets are managed by " + source},
		{"PATCH", "/kong/upstreams/web/targets/" + addr(a), `{"weight":5}`,
			"cannot update target '" + addr(a) + "' of upstream 'web': it is managed by " + source},
		{"PUT", "/kong/upstreams/web/targets/" + first["id"].(string), `{"weight":5}`,
			"cannot update target '" + first["target"].(string) + "' of upstream 'web': it is managed by " + source},
		{"DELETE", "/kong/upstreams/web/targets/" + addr(b), "",
			"cannot remove target '" + addr(b) + "' of upstream 'web': it is managed by " + source},
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
	if got := proxy(t, cd, 4); got[a.Name] != 2 || got[b.Name] != 2 {
		t.Fatalf("answers %v, want 2 from each pod", got)
	}
}

// TestSourceTargetsAreHealthChecked runs health checks on source targets:
// a manual mark applies and active checks undo it, and a pod that stops
// answering (still Ready in the API) leaves the rotation and shows
// UNHEALTHY.
func TestSourceTargetsAreHealthChecked(t *testing.T) {
	k := newCluster(t)
	servers := k.serve("web")
	pods := k.deploy("web", 2, 0)
	servers.WaitServing(t, 2)
	a, b := pods[0], pods[1]
	cd := k.startCaddy(strings.ReplaceAll(`healthchecks {
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
	if status, body := cd.Admin(t, "PUT", "/kong/upstreams/web/targets/"+addr(a)+"/unhealthy", "", nil); status != http.StatusNoContent {
		t.Fatalf("marking a source target unhealthy: %d %s", status, body)
	}
	if h := healthOf(t, cd, addr(a)); h != "UNHEALTHY" {
		t.Fatalf("a is %s right after the manual mark", h)
	}
	marked := time.Now()
	waitHealth(t, cd, addr(a), "HEALTHY") // the active check brings it back
	t.Logf("manually unhealthy pod back to HEALTHY after %v", time.Since(marked))

	servers.Stop(t, b.Name)
	killed := time.Now()
	waitHealth(t, cd, addr(b), "UNHEALTHY")
	t.Logf("stopped pod marked UNHEALTHY after %v", time.Since(killed))
	if got := proxy(t, cd, 10); got[a.Name] != 10 {
		t.Fatalf("with b down: answers %v, want 10 from %s", got, a.Name)
	}
}

// TestSourceStopsWithItsConfig checks that the source's goroutines end,
// and its targets go, when a reload drops the source, and that Caddy's
// stop ends them too.
func TestSourceStopsWithItsConfig(t *testing.T) {
	k := newCluster(t)
	pods := k.deploy("web", 1, 0)
	db := t.TempDir() + "/registry.db"
	cd := testcaddy.New(t)
	cd.Load(t, k.config(), "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, pods...))
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

	cd.Load(t, k.config(), "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, pods...))
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	waitNoSourceGoroutines(t)
}

// TestReloadKeepsSourceTargets reloads the same config: the upstream keeps
// its source targets throughout, so no request fails.
func TestReloadKeepsSourceTargets(t *testing.T) {
	k := newCluster(t)
	servers := k.serve("web")
	pods := k.deploy("web", 1, 0)
	servers.WaitServing(t, 1)
	db := t.TempDir() + "/registry.db"
	cd := testcaddy.New(t)
	cd.Load(t, k.config(), "{DB}", db, "{FIELDS}", fields())
	waitTargets(t, time.Now(), want(100, pods...))
	for i := 0; i < 3; i++ {
		cd.Load(t, k.config(), "{DB}", db, "{FIELDS}", fields(fmt.Sprintf("tags reload-%d", i)))
		if got := targetWeights(); got != want(100, pods...) {
			t.Fatalf("reload %d: targets %q right after the load", i, got)
		}
		if status, body := cd.GetAfterReload(t, "/"); status != 200 || !strings.HasPrefix(body, pods[0].Name) {
			t.Fatalf("reload %d: %d %q", i, status, body)
		}
	}
}

// TestClientGoErrorsInCaddyLog points the source at the API server with a
// token it refuses: client-go's error reaches Caddy's log as a JSON entry
// of the logger kubernetes.client-go, not klog's stderr lines.
func TestClientGoErrorsInCaddyLog(t *testing.T) {
	k := newCluster(t)
	logFile := t.TempDir() + "/caddy.log"
	cd := testcaddy.New(t)
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d","config":{"persist":false}},
		"logging":{"logs":{"default":{"writer":{"output":"file","filename":%q},"level":"ERROR"}}},
		"apps":{"upstreams":{"store":{"module":"bolt","path":%q},
		"upstreams":[{"name":"web","source":{"module":"kubernetes","namespace":%q,"service":%q,"kubeconfig":%q}}]}}}`,
		cd.AdminPort, logFile, t.TempDir()+"/r.db", k.ns, testService, k.plane.KubeconfigWithToken(t, "wrong-token"))
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })
	var raw []byte
	testcaddy.WaitFor(t, 10*time.Second, "client-go's error in Caddy's log", func() bool {
		raw, _ = os.ReadFile(logFile)
		for _, line := range strings.Split(string(raw), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(fmt.Sprint(entry["logger"]), "kubernetes.client-go") &&
				strings.Contains(line, "Unauthorized") {
				t.Logf("logged: %s", line)
				return true
			}
		}
		return false
	})
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
	testcaddy.WaitFor(t, 5*time.Second, addr+" "+health, func() bool { return healthOf(t, c, addr) == health })
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
