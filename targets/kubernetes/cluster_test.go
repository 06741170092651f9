package kubernetes_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/targets/kubernetes"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// Namespace and Service the tests watch.
const (
	testNamespace = "shop"
	testService   = "web"
)

// sourceConfig proxies to the upstream "web" whose targets come from the
// Service shop/web, port "http". {FIELDS} takes more upstream fields, each
// on a line of its own (see fields).
const sourceConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream web {{FIELDS}
			source kubernetes {
				namespace shop
				service web
				port http
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

// cluster is client-go's fake clientset standing in for the API server,
// with real backends on loopback addresses standing in for the pods.
type cluster struct {
	t      *testing.T
	client *fake.Clientset
	port   int // every pod's port, as in a Deployment
}

// newCluster injects a fake clientset into the kubernetes sources that
// the test provisions.
func newCluster(t *testing.T) *cluster {
	client := fake.NewClientset()
	kubernetes.UseFakeClient(t, client)
	return &cluster{t: t, client: client, port: testcaddy.FreePort(t)}
}

// pod starts a backend at 127.0.0.<n>:port.
func (k *cluster) pod(name string, n int) *testcaddy.Backend {
	return testcaddy.StartBackendAt(k.t, name, fmt.Sprintf("127.0.0.%d:%d", n, k.port))
}

// endpoint is one endpoint of an EndpointSlice, as the EndpointSlice
// controller writes it for a pod.
type endpoint struct {
	pod                         *testcaddy.Backend
	ready, serving, terminating bool
}

func ready(b *testcaddy.Backend) endpoint { return endpoint{pod: b, ready: true, serving: true} }

// terminating is a pod shutting down that still serves (its readiness
// probe passes during the grace period).
func terminating(b *testcaddy.Backend) endpoint {
	return endpoint{pod: b, serving: true, terminating: true}
}

func notReady(b *testcaddy.Backend) endpoint { return endpoint{pod: b} }

// slice builds an EndpointSlice of a Service with the port "http".
func (k *cluster) slice(name, service string, eps ...endpoint) *discoveryv1.EndpointSlice {
	portName, port := "http", int32(k.port)
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &port}},
	}
	for _, e := range eps {
		host, _, _ := net.SplitHostPort(e.pod.Addr)
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{host},
			Conditions: discoveryv1.EndpointConditions{Ready: &e.ready, Serving: &e.serving, Terminating: &e.terminating},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: testNamespace, Name: e.pod.Name},
		})
	}
	return sl
}

// create adds an EndpointSlice to the fake cluster.
func (k *cluster) create(sl *discoveryv1.EndpointSlice) {
	k.t.Helper()
	if _, err := k.client.DiscoveryV1().EndpointSlices(testNamespace).Create(context.Background(), sl, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

// update replaces an EndpointSlice, as the EndpointSlice controller does
// when a Deployment scales, and returns when it did.
func (k *cluster) update(sl *discoveryv1.EndpointSlice) time.Time {
	k.t.Helper()
	at := time.Now()
	if _, err := k.client.DiscoveryV1().EndpointSlices(testNamespace).Update(context.Background(), sl, metav1.UpdateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	return at
}

// startCaddy loads sourceConfig with the given extra upstream fields.
func startCaddy(t *testing.T, lines ...string) *testcaddy.Caddy {
	t.Helper()
	c := testcaddy.New(t)
	c.Load(t, sourceConfig, "{DB}", filepath.Join(t.TempDir(), "registry.db"), "{FIELDS}", fields(lines...))
	return c
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

// want renders backends with a weight as targetWeights does.
func want(weight int, backends ...*testcaddy.Backend) string {
	out := make([]string, len(backends))
	for i, b := range backends {
		out[i] = fmt.Sprintf("%s=%d", b.Addr, weight)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// waitTargets waits (5 s at most) until the registry's targets of "web"
// are expected, and returns how long that took from since.
func waitTargets(t *testing.T, since time.Time, expected string) time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := targetWeights()
		if got == expected {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry targets of %s: %q, want %q", testService, got, expected)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// proxy sends n sequential requests through Caddy and fails on any
// answer but 200.
func proxy(t *testing.T, c *testcaddy.Caddy, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if status, body := c.Get(t, "/"); status != 200 {
			t.Fatalf("request %d: status %d, body %q", i, status, body)
		}
	}
}

// hits returns the backends' hit counts and resets nothing.
func hits(backends ...*testcaddy.Backend) []int64 {
	out := make([]int64, len(backends))
	for i, b := range backends {
		out[i] = b.Hits.Load()
	}
	return out
}
