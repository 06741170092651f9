package kubernetes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testk8s"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// TestMain runs the tests inside the private network namespace of the
// real control plane (internal/testk8s), with Caddy's directories in a
// temporary directory.
func TestMain(m *testing.M) {
	cleanup := testcaddy.Setup()
	code := testk8s.Main(m)
	cleanup()
	os.Exit(code)
}

// Names of the workload the tests watch, and the port its pods listen on.
const (
	testService = "web"
	podPort     = 8080
)

// sourceConfig proxies to the upstream "web" whose targets come from the
// Service {NS}/web, port "http", through the plane's kubeconfig. {FIELDS}
// takes more upstream fields, each on a line of its own (see fields).
const sourceConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream web {{FIELDS}
			source kubernetes {
				namespace {NS}
				service web
				port http
				kubeconfig {KUBECONFIG}
			}
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry web
		lb_policy registry
	}
}
`

// workload is a Deployment and its Service, as a user applies them: pods
// labelled app=<name> listening on podPort, a Service port "http" (80)
// targeting it. {DELAY} is how long a deleted pod keeps terminating.
const workload = `apiVersion: apps/v1
kind: Deployment
metadata: {name: {NAME}, namespace: {NS}}
spec:
  replicas: {REPLICAS}
  selector: {matchLabels: {app: {NAME}}}
  template:
    metadata:
      labels: {app: {NAME}}
      annotations: {"` + testk8s.PodDeleteDelayAnnotation + `": "{DELAY}"}
    spec:
      containers:
      - name: app
        image: registry.example/{NAME}:1
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: {NAME}, namespace: {NS}}
spec:
  selector: {app: {NAME}}
  ports: [{name: http, port: 80, targetPort: http}]
`

// cluster is the real control plane with a namespace of the test's own.
type cluster struct {
	t     *testing.T
	plane *testk8s.Plane
	ns    string
}

// newCluster starts (or reuses) the plane and makes the test's namespace.
func newCluster(t *testing.T) *cluster {
	p := testk8s.Start(t)
	return &cluster{t: t, plane: p, ns: p.NewNamespace(t)}
}

// deploy applies a workload with that many replicas and delete delay, and
// waits until its pods are Ready.
func (k *cluster) deploy(name string, replicas int, deleteDelay time.Duration) []corev1.Pod {
	k.t.Helper()
	k.plane.Apply(k.t, strings.NewReplacer("{NAME}", name, "{NS}", k.ns, "{REPLICAS}", fmt.Sprint(replicas),
		"{DELAY}", deleteDelay.String()).Replace(workload))
	return k.plane.WaitReadyPods(k.t, k.ns, "app="+name, replicas)
}

// orphan deletes a workload's Deployment and ReplicaSets but leaves their
// pods running, so that a pod the test deletes is not replaced: the test
// then watches that one pod drain, with no newcomer in the pool.
func (k *cluster) orphan(name string) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	orphan := metav1.DeletePropagationOrphan
	opts := metav1.DeleteOptions{PropagationPolicy: &orphan}
	apps := k.plane.Client.AppsV1()
	if err := apps.Deployments(k.ns).Delete(ctx, name, opts); err != nil {
		k.t.Fatal(err)
	}
	if err := apps.ReplicaSets(k.ns).DeleteCollection(ctx, opts, metav1.ListOptions{LabelSelector: "app=" + name}); err != nil {
		k.t.Fatal(err)
	}
	// the garbage collector removes the pods' owner references on its own
	// time; changing them later would race the test's own pod updates
	testcaddy.WaitFor(k.t, 10*time.Second, "pods without owners", func() bool {
		pods, err := k.plane.Client.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false
		}
		for _, p := range pods.Items {
			if len(p.OwnerReferences) > 0 {
				return false
			}
		}
		return true
	})
}

// serve runs pod servers for a workload's pods.
func (k *cluster) serve(name string) *testk8s.PodServers {
	return k.plane.ServePods(k.t, k.ns, "app="+name, podPort)
}

// deletePod deletes a pod as `kubectl delete pod --wait=false` does and
// returns when the API accepted it.
func (k *cluster) deletePod(name string) time.Time {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.plane.Client.CoreV1().Pods(k.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		k.t.Fatal(err)
	}
	return time.Now()
}

// failReadiness sets a pod's Ready condition to False, as the kubelet does
// when a readiness probe fails: its endpoint stays in the slice, not ready.
func (k *cluster) failReadiness(pod corev1.Pod) {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fresh, err := k.plane.Client.CoreV1().Pods(k.ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	// kwok's pod-ready Stage would make the pod Ready again: hold it off
	if fresh.Annotations == nil {
		fresh.Annotations = map[string]string{}
	}
	fresh.Annotations[testk8s.PodReadyDelayAnnotation] = "1h"
	if fresh, err = k.plane.Client.CoreV1().Pods(k.ns).Update(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	pod = *fresh
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := k.plane.Client.CoreV1().Pods(k.ns).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

// startCaddy loads sourceConfig with the given extra upstream fields.
func (k *cluster) startCaddy(lines ...string) *testcaddy.Caddy {
	k.t.Helper()
	c := testcaddy.New(k.t)
	c.Load(k.t, k.config(), "{DB}", filepath.Join(k.t.TempDir(), "registry.db"), "{FIELDS}", fields(lines...))
	return c
}

// config is sourceConfig for the test's namespace and the plane.
func (k *cluster) config() string {
	return strings.NewReplacer("{NS}", k.ns, "{KUBECONFIG}", k.plane.Kubeconfig).Replace(sourceConfig)
}

// fields renders upstream fields for sourceConfig's {FIELDS}.
func fields(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\n\t\t\t" + l)
	}
	return b.String()
}

// targetWeights renders the registry's targets of "web" as sorted
// "address=weight" strings.
func targetWeights() string {
	reg := upstreams.ActiveRegistry()
	if reg == nil {
		return ""
	}
	list, _ := reg.Targets(testService)
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = fmt.Sprintf("%s=%d", t.Target, t.Weight)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// want renders pods with a weight as targetWeights does.
func want(weight int, pods ...corev1.Pod) string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = fmt.Sprintf("%s:%d=%d", p.Status.PodIP, podPort, weight)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// wantMixed renders ready pods at weight 100 and terminating ones at 0, as
// targetWeights does.
func wantMixed(ready, terminating []corev1.Pod) string {
	all := strings.Fields(want(100, ready...) + " " + want(0, terminating...))
	sort.Strings(all)
	return strings.Join(all, " ")
}

// addr is a pod's target address.
func addr(p corev1.Pod) string { return fmt.Sprintf("%s:%d", p.Status.PodIP, podPort) }

// waitTargets waits (30 s at most) until the registry's targets of "web"
// are expected, and returns how long that took from since.
func waitTargets(t *testing.T, since time.Time, expected string) time.Duration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := targetWeights()
		if got == expected {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry targets of %s: %q, want %q", testService, got, expected)
		}
		time.Sleep(time.Millisecond)
	}
}

// proxy sends n sequential requests through Caddy, fails on any answer
// but 200, and counts the answers by pod name.
func proxy(t *testing.T, c *testcaddy.Caddy, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		got[podOf(t, c, "/")]++
	}
	return got
}

// podOf sends one request through Caddy and returns the name of the pod
// that answered; it fails on any answer but 200.
func podOf(t *testing.T, c *testcaddy.Caddy, path string) string {
	t.Helper()
	status, body := c.Get(t, path)
	if status != 200 {
		t.Fatalf("GET %s: status %d, body %q", path, status, body)
	}
	return strings.Fields(body)[0]
}

// names returns the pods' names.
func names(pods ...corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

// without returns the pods but the one named.
func without(pods []corev1.Pod, name string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return out
}
