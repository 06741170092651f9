package testk8s_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testk8s"
)

func TestMain(m *testing.M) { os.Exit(testk8s.Main(m)) }

// web is a Deployment of 2 pods and its Service, as a user applies them;
// {DELAY} is the pods' delete delay.
const web = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {"` + testk8s.PodDeleteDelayAnnotation + `": "{DELAY}"}
    spec:
      containers:
      - {name: web, image: registry.example/web:1, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`

// TestPlaneRunsDeployments applies a Deployment and a Service with kubectl:
// the real controllers and kwok give Ready pods with IPs from the pod range,
// the EndpointSlice controller lists them, ServePods answers on each pod
// IP, and a deleted pod's endpoint terminates for the pod's delete delay
// before it goes.
func TestPlaneRunsDeployments(t *testing.T) {
	p := testk8s.Start(t)
	if got := p.Kubectl(t, "version", "--output", "json"); !strings.Contains(got, `"gitVersion": "`+testk8s.KubernetesVersion+`"`) {
		t.Fatalf("kubectl version: %s", got)
	}
	ns := p.NewNamespace(t)
	pods := p.ServePods(t, ns, "app=web", 8080)
	p.Apply(t, strings.ReplaceAll(strings.ReplaceAll(web, "{DELAY}", "2s"), "metadata: {name: web}", "metadata: {name: web, namespace: "+ns+"}"))

	ready := p.WaitReadyPods(t, ns, "app=web", 2)
	pods.WaitServing(t, 2)
	for _, pod := range ready {
		if !strings.HasPrefix(pod.Status.PodIP, "10.244.0.") || pod.Spec.NodeName != testk8s.NodeName {
			t.Fatalf("pod %s: IP %s on node %q", pod.Name, pod.Status.PodIP, pod.Spec.NodeName)
		}
		body := get(t, fmt.Sprintf("http://%s:8080/hello", pod.Status.PodIP))
		if want := pod.Name + " " + pod.Status.PodIP + " /hello\n"; body != want {
			t.Fatalf("pod server answered %q, want %q", body, want)
		}
	}
	waitEndpoints(t, p, ns, "ready", func(eps map[string]string) bool {
		return len(eps) == 2 && eps[ready[0].Status.PodIP] == "ready" && eps[ready[1].Status.PodIP] == "ready"
	})

	deleted := time.Now()
	p.Kubectl(t, "delete", "pod", "-n", ns, ready[0].Name, "--wait=false")
	took := waitEndpoints(t, p, ns, "the deleted pod's endpoint to terminate", func(eps map[string]string) bool {
		return eps[ready[0].Status.PodIP] == "terminating"
	})
	t.Logf("pod deletion → endpoint terminating: %v", took)
	if body := get(t, fmt.Sprintf("http://%s:8080/", ready[0].Status.PodIP)); !strings.HasPrefix(body, ready[0].Name) {
		t.Fatalf("terminating pod answered %q", body)
	}
	waitEndpoints(t, p, ns, "the deleted pod's endpoint to go", func(eps map[string]string) bool {
		_, present := eps[ready[0].Status.PodIP]
		return !present
	})
	gone := time.Since(deleted)
	if gone < 2*time.Second {
		t.Fatalf("the endpoint went %v after the deletion, before the pod's 2 s delete delay", gone)
	}
	t.Logf("pod deletion → endpoint gone: %v (delete delay 2 s)", gone)
	// the ReplicaSet replaced the pod
	p.WaitReadyPods(t, ns, "app=web", 2)
	pods.WaitServing(t, 2)
	t.Log(p.MemoryReport())
}

// TestKubeconfigWithToken authenticates with a ServiceAccount's token: the
// plane's RBAC applies to it.
func TestKubeconfigWithToken(t *testing.T) {
	p := testk8s.Start(t)
	ns := p.NewNamespace(t)
	p.Kubectl(t, "create", "serviceaccount", "-n", ns, "reader")
	p.Kubectl(t, "create", "role", "-n", ns, "read-pods", "--verb=list", "--resource=pods")
	p.Kubectl(t, "create", "rolebinding", "-n", ns, "reader", "--role=read-pods", "--serviceaccount="+ns+":reader")
	kubeconfig := p.KubeconfigWithToken(t, p.ServiceAccountToken(t, ns, "reader"))
	if out, err := p.KubectlErr("--kubeconfig", kubeconfig, "auth", "can-i", "list", "pods", "-n", ns); err != nil || strings.TrimSpace(out) != "yes" {
		t.Fatalf("can-i list pods: %q %v", out, err)
	}
	if out, err := p.KubectlErr("--kubeconfig", kubeconfig, "auth", "can-i", "list", "secrets", "-n", ns); err == nil || strings.TrimSpace(out) != "no" {
		t.Fatalf("can-i list secrets: %q %v", out, err)
	}
	if _, err := p.KubectlErr("--kubeconfig", p.KubeconfigWithToken(t, "wrong"), "get", "pods"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("a wrong token: %v", err)
	}
}

// get fetches a URL and returns the body of a 200 answer.
func get(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// waitEndpoints polls (30 s at most) the EndpointSlices of Service web,
// as address → "ready", "terminating" or "other", until cond holds, and
// returns how long that took.
func waitEndpoints(t *testing.T, p *testk8s.Plane, ns, what string, cond func(map[string]string) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		list, err := p.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(),
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			t.Fatal(err)
		}
		eps := map[string]string{}
		for _, sl := range list.Items {
			for _, ep := range sl.Endpoints {
				state := "other"
				switch {
				case ep.Conditions.Terminating != nil && *ep.Conditions.Terminating:
					state = "terminating"
				case ep.Conditions.Ready == nil || *ep.Conditions.Ready:
					state = "ready"
				}
				for _, addr := range ep.Addresses {
					eps[addr] = state
				}
			}
		}
		if cond(eps) {
			return time.Since(start)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("waiting for %s: endpoints %v", what, eps)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
