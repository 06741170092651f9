package ingress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testk8s"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// TestMain runs the package's tests inside the private network namespace
// of the control plane (see testk8s.Main), with Caddy's directories in a
// temporary directory.
func TestMain(m *testing.M) {
	cleanup := testcaddy.Setup()
	code := testk8s.Main(m)
	cleanup()
	os.Exit(code)
}

// Files of the seed's Kubernetes workflow and of our Deployment.
const (
	echoManifest    = "../../../testdata/kubernetes/echo.yaml"
	ingressManifest = "../../../testdata/kubernetes/echo-ingress.yaml"
	policyCRD       = "../../../deploy/kubernetes/crd-kongupstreampolicies.yaml"
	publishAddress  = "10.244.0.250"
)

// kongCaddyfile is Caddy as our Deployment runs it: the Ingress controller
// watching the plane, kong_proxy, and kong_admin on its own port.
const kongCaddyfile = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		kubernetes {
			kubeconfig {KUBECONFIG}
			ingress_class kong
			publish_address ` + publishAddress + `
		}
	}
}
http://:{HTTP} {
	bind 127.0.0.1
	kong_proxy
}
http://:{KONGADMIN} {
	bind 127.0.0.1
	kong_admin
}
`

// startCaddy loads Caddy with the controller pointed at the plane and
// returns it with the port of its Kong Admin API.
func startCaddy(t *testing.T, p *testk8s.Plane) (*testcaddy.Caddy, int) {
	t.Helper()
	c := testcaddy.New(t)
	admin := testcaddy.FreePort(t)
	c.Load(t, kongCaddyfile, "{DB}", filepath.Join(t.TempDir(), "registry.db"),
		"{KUBECONFIG}", p.Kubeconfig, "{KONGADMIN}", fmt.Sprint(admin))
	return c, admin
}

// kongAdmin sends a request to the Kong Admin API.
func kongAdmin(t *testing.T, port int, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// proxied sends one request through kong_proxy and returns the status,
// the answering pod (testk8s.HeaderPodName) and the body.
func proxied(c *testcaddy.Caddy, path string, header ...string) (int, string, string, error) {
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", c.HTTPPort, path), nil)
	if err != nil {
		return 0, "", "", err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get(testk8s.HeaderPodName), b.String(), nil
}

// TestSeedKubernetesWorkflow walks the seed's Kubernetes steps on a real
// control plane: the echo Deployment, Service and Ingress; requests on
// /echo reach the pod; the Admin API lists KIC's upstream and the pods as
// targets; scaling 1→3→1 spreads traffic then drains to the survivor with
// no failed request; a KongUpstreamPolicy makes placement sticky; a bad
// annotation is an Event while the rest is served; deleting the Ingress
// gives Kong's 404.
func TestSeedKubernetesWorkflow(t *testing.T) {
	p := testk8s.Start(t)
	p.Apply(t, policyCRD)
	p.Apply(t, echoManifest)
	p.Apply(t, ingressManifest)
	t.Cleanup(func() { p.KubectlErr("delete", "namespace", "testing", "--wait=false") })
	pods := p.ServePods(t, "testing", "app=echo", 1027)
	p.WaitReadyPods(t, "testing", "app=echo", 1)
	pods.WaitServing(t, 1)
	c, admin := startCaddy(t, p)

	// /echo reaches the pod, with the prefix stripped (konghq.com/strip-path)
	var body string
	testcaddy.WaitFor(t, 30*time.Second, "GET /echo answered by a pod", func() bool {
		status, pod, b, err := proxied(c, "/echo/hello")
		body = b
		return err == nil && status == 200 && pod != ""
	})
	if !strings.HasSuffix(strings.TrimSpace(body), " /hello") {
		t.Errorf("the pod saw %q, want the path without /echo", body)
	}

	// the Admin API shows KIC's names and the pod's address
	status, list := kongAdmin(t, admin, "GET", "/upstreams", "")
	if status != 200 || !strings.Contains(fmt.Sprint(list["data"]), "name:echo.testing.80.svc") {
		t.Fatalf("GET /upstreams: %d %v", status, list)
	}
	ready := p.ReadyPods(t, "testing", "app=echo")
	status, ts := kongAdmin(t, admin, "GET", "/upstreams/echo.testing.80.svc/targets", "")
	if status != 200 || !strings.Contains(fmt.Sprint(ts["data"]), "target:"+ready[0].Status.PodIP+":1027") {
		t.Fatalf("GET targets: %d %v, want %s:1027", status, ts, ready[0].Status.PodIP)
	}
	if status, svc := kongAdmin(t, admin, "GET", "/services/testing.echo.80", ""); status != 200 || svc["host"] != "echo.testing.80.svc" {
		t.Errorf("GET /services/testing.echo.80: %d %v", status, svc)
	}
	if status, rt := kongAdmin(t, admin, "GET", "/routes/testing.echo.echo..80", ""); status != 200 || rt["strip_path"] != true {
		t.Errorf("GET /routes/testing.echo.echo..80: %d %v", status, rt)
	}
	// read-only: Kong's DB-less refusal
	if status, e := kongAdmin(t, admin, "PATCH", "/services/testing.echo.80", `{"retries":1}`); status != 405 || e["code"] != 12.0 {
		t.Errorf("PATCH a Kubernetes service: %d %v, want 405 code 12", status, e)
	}
	if status, e := kongAdmin(t, admin, "DELETE", "/upstreams/echo.testing.80.svc", ""); status != 405 || e["code"] != 12.0 {
		t.Errorf("DELETE a Kubernetes upstream: %d %v, want 405 code 12", status, e)
	}
	// the Ingress status shows the published address
	testcaddy.WaitFor(t, 10*time.Second, "the Ingress status address", func() bool {
		out, _ := p.KubectlErr("get", "ingress", "echo", "-n", "testing", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		return out == publishAddress
	})

	// scale 1→3: new pods take traffic
	first := map[string]bool{}
	for _, pod := range pods.Serving() {
		first[pod] = true
	}
	scaled := p.Scale(t, "testing", "echo", 3)
	var newPodAfter time.Duration
	testcaddy.WaitEvery(t, time.Millisecond, 30*time.Second, "a request answered by a new pod", func() bool {
		_, pod, _, err := proxied(c, "/echo/")
		if err == nil && pod != "" && !first[pod] {
			newPodAfter = time.Since(scaled)
			return true
		}
		return false
	})
	t.Logf("measured: kubectl scale 1→3 returned → first proxied request on a new pod: %v", newPodAfter)
	p.WaitReadyPods(t, "testing", "app=echo", 3)
	pods.WaitServing(t, 3)
	testcaddy.WaitFor(t, 10*time.Second, "3 targets", func() bool {
		reg := upstreams.ActiveRegistry()
		ts, _ := reg.Targets("echo.testing.80.svc")
		return len(ts) == 3
	})
	seen := map[string]int{}
	for range 30 {
		status, pod, _, err := proxied(c, "/echo/")
		if err != nil || status != 200 {
			t.Fatalf("request over 3 pods: %d %v", status, err)
		}
		seen[pod]++
	}
	if len(seen) != 3 {
		t.Errorf("30 requests over 3 pods went to %v, want all three", seen)
	}

	// KongUpstreamPolicy: consistent hashing on a header → sticky placement
	p.Apply(t, `
apiVersion: configuration.konghq.com/v1beta1
kind: KongUpstreamPolicy
metadata:
  name: sticky
  namespace: testing
spec:
  algorithm: consistent-hashing
  hashOn:
    header: x-user
`)
	p.Kubectl(t, "annotate", "service", "echo", "-n", "testing", "konghq.com/upstream-policy=sticky")
	testcaddy.WaitFor(t, 10*time.Second, "the upstream hashing on x-user", func() bool {
		u, _ := upstreams.ActiveRegistry().Upstream("echo.testing.80.svc")
		return u.Algorithm == "consistent-hashing" && u.HashOn == "header"
	})
	placed := map[string]bool{}
	for user := range 20 {
		var pod0 string
		for i := range 5 {
			status, pod, _, err := proxied(c, "/echo/", "x-user", fmt.Sprint("user-", user))
			if err != nil || status != 200 {
				t.Fatalf("hashed request: %d %v", status, err)
			}
			if i == 0 {
				pod0 = pod
			} else if pod != pod0 {
				t.Fatalf("user-%d went to %s then %s, want the same pod", user, pod0, pod)
			}
		}
		placed[pod0] = true
	}
	if len(placed) < 2 {
		t.Errorf("20 users all hashed to %v, want them spread", placed)
	}
	p.Kubectl(t, "annotate", "service", "echo", "-n", "testing", "konghq.com/upstream-policy-")
	testcaddy.WaitFor(t, 10*time.Second, "round-robin again", func() bool {
		u, _ := upstreams.ActiveRegistry().Upstream("echo.testing.80.svc")
		return u.Algorithm == "round-robin"
	})

	// scale 3→1 under load: no failed request, then only the survivor
	var lastOnGone sync.Map // pod -> time of its last answer
	load := testcaddy.StartLoad(t, 4, func() error {
		status, pod, _, err := proxied(c, "/echo/")
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("status %d", status)
		}
		lastOnGone.Store(pod, time.Now())
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	scaledDown := p.Scale(t, "testing", "echo", 1)
	survivors := p.WaitReadyPods(t, "testing", "app=echo", 1)
	testcaddy.WaitFor(t, 30*time.Second, "one target left", func() bool {
		ts, _ := upstreams.ActiveRegistry().Targets("echo.testing.80.svc")
		return len(ts) == 1
	})
	time.Sleep(300 * time.Millisecond) // traffic on the survivor only
	sent, failed := load.Stop()
	var lastOther time.Time
	lastOnGone.Range(func(k, v any) bool {
		if k.(string) != survivors[0].Name && v.(time.Time).After(lastOther) {
			lastOther = v.(time.Time)
		}
		return true
	})
	t.Logf("measured: scale 3→1 → last request on a removed pod after %v; %d requests sent during scale-down, %d failed",
		lastOther.Sub(scaledDown), sent, failed)
	if failed != 0 {
		t.Errorf("%d of %d requests failed during the scale-down, want 0: %v", failed, sent, load.Failures())
	}
	for range 10 {
		if _, pod, _, err := proxied(c, "/echo/"); err != nil || pod != survivors[0].Name {
			t.Fatalf("after scale-down a request went to %q (%v), want %s", pod, err, survivors[0].Name)
		}
	}

	// a bad annotation: an Event on that Ingress, the rest still served
	p.Apply(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bad
  namespace: testing
  annotations:
    konghq.com/strip-path: "maybe"
spec:
  ingressClassName: kong
  rules:
  - http:
      paths:
      - path: /bad
        pathType: Prefix
        backend:
          service:
            name: echo
            port:
              number: 80
`)
	testcaddy.WaitFor(t, 10*time.Second, "a Warning event on Ingress bad", func() bool {
		out, _ := p.KubectlErr("get", "events", "-n", "testing", "--field-selector", "involvedObject.name=bad",
			"-o", "jsonpath={.items[*].reason} {.items[*].message}")
		return strings.Contains(out, "KongConfigurationTranslationFailed") && strings.Contains(out, "konghq.com/strip-path")
	})
	if status, _, _, err := proxied(c, "/bad"); err != nil || status != 404 {
		t.Errorf("GET /bad: %d %v, want 404", status, err)
	}
	if status, _, _, err := proxied(c, "/echo/"); err != nil || status != 200 {
		t.Errorf("GET /echo/ beside a bad Ingress: %d %v", status, err)
	}

	// deleting the Ingress removes the route: Kong's 404
	p.Kubectl(t, "delete", "ingress", "echo", "-n", "testing")
	testcaddy.WaitFor(t, 10*time.Second, "Kong's 404 on /echo", func() bool {
		status, _, b, err := proxied(c, "/echo/")
		return err == nil && status == 404 && strings.Contains(b, "no Route matched with those values")
	})
}

// TestHundredIngresses measures the controller at 100 Ingresses, each to
// its own Service over the same 10 pods (100 upstreams of 10 targets):
// objects → registry at start, one more Ingress → its route, and the
// watch's Go heap.
func TestHundredIngresses(t *testing.T) {
	p := testk8s.Start(t)
	ns := p.NewNamespace(t)
	var b strings.Builder
	fmt.Fprintf(&b, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: bulk, namespace: %[1]s}
spec:
  replicas: 10
  selector: {matchLabels: {app: bulk}}
  template:
    metadata: {labels: {app: bulk}}
    spec: {containers: [{name: app, image: app}]}
`, ns)
	for i := range 100 {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Service
metadata: {name: svc-%[2]d, namespace: %[1]s}
spec: {selector: {app: bulk}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing-%[2]d, namespace: %[1]s}
spec:
  ingressClassName: kong
  rules:
  - host: h%[2]d.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-%[2]d, port: {number: 80}}}}]}
`, ns, i)
	}
	p.Apply(t, b.String())
	p.WaitReadyPods(t, ns, "app=bulk", 10)
	// every Service's slice lists the 10 pods before Caddy starts
	testcaddy.WaitFor(t, 60*time.Second, "100 EndpointSlices of 10 endpoints", func() bool {
		slices, err := p.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		full := 0
		for _, s := range slices.Items {
			if len(s.Endpoints) == 10 {
				full++
			}
		}
		return full >= 100
	})

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	startCaddy(t, p)
	reg := upstreams.ActiveRegistry()
	complete := func() bool {
		n := 0
		for _, u := range reg.Upstreams() {
			if ts, _ := reg.Targets(u.Name); strings.HasPrefix(u.Name, "svc-") && len(ts) == 10 {
				n++
			}
		}
		return n == 100
	}
	testcaddy.WaitEvery(t, time.Millisecond, 60*time.Second, "100 upstreams of 10 targets", complete)
	t.Logf("measured: config load → 100 Ingresses (100 services, routes, upstreams, 1000 targets) in the registry: %v", time.Since(start))
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("measured: Go heap in use with Caddy and the watch at that size: %.1f MiB more than before Caddy started",
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20))

	added := time.Now()
	p.Apply(t, fmt.Sprintf(`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing-extra, namespace: %[1]s}
spec:
  ingressClassName: kong
  rules:
  - host: extra.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-0, port: {number: 80}}}}]}
`, ns))
	testcaddy.WaitEvery(t, time.Millisecond, 30*time.Second, "the 101st Ingress's route", func() bool {
		_, ok := reg.Route(ns + ".ing-extra.svc-0.extra.example.80")
		return ok
	})
	t.Logf("measured: kubectl apply of a 101st Ingress returned → its route in the registry: %v (apply itself included)", time.Since(added))
}
