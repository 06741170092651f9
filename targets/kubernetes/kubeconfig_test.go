package kubernetes_test

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// apiServer answers the EndpointSlice requests of one namespace the way
// the Kubernetes API server does over HTTP: LIST, WATCH, and the streaming
// list (WATCH with sendInitialEvents, ended by a bookmark) that client-go
// uses first. It lets a test drive the source's real REST client, built
// from a kubeconfig file, without a cluster.
type apiServer struct {
	t      *testing.T
	mu     sync.Mutex
	rv     int
	slices map[string]*discoveryv1.EndpointSlice
	events []chan watchEvent
	srv    *httptest.Server
	// requests counts requests by kind: "list", "watch", "watch-list".
	requests map[string]int
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

func startAPIServer(t *testing.T) *apiServer {
	a := &apiServer{t: t, slices: map[string]*discoveryv1.EndpointSlice{}, requests: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apis/discovery.k8s.io/v1/namespaces/"+testNamespace+"/endpointslices", a.serve)
	a.srv = httptest.NewTLSServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// kubeconfig writes a kubeconfig file pointing at the server, trusting
// its certificate, with a bearer token (the server takes "test-token").
func (a *apiServer) kubeconfig(token string) string {
	path := filepath.Join(a.t.TempDir(), "kubeconfig")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw})
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority-data: %s}
users:
- name: test
  user: {token: %s}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, a.srv.URL, base64.StdEncoding.EncodeToString(ca), token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		a.t.Fatal(err)
	}
	return path
}

// put stores a slice and tells the watchers.
func (a *apiServer) put(sl *discoveryv1.EndpointSlice) {
	a.mu.Lock()
	defer a.mu.Unlock()
	kind := "ADDED"
	if _, exists := a.slices[sl.Name]; exists {
		kind = "MODIFIED"
	}
	a.rv++
	sl = sl.DeepCopy()
	sl.TypeMeta = metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"}
	sl.ResourceVersion = strconv.Itoa(a.rv)
	a.slices[sl.Name] = sl
	for _, ch := range a.events {
		ch <- watchEvent{Type: kind, Object: sl}
	}
}

func (a *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer test-token" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	if q.Get("labelSelector") != discoveryv1.LabelServiceName+"="+testService {
		a.t.Errorf("request without the Service's label selector: %s", r.URL)
	}
	w.Header().Set("Content-Type", "application/json")
	kind := "list"
	if q.Get("watch") == "true" || q.Get("watch") == "1" {
		kind = "watch"
		if q.Get("sendInitialEvents") == "true" {
			kind = "watch-list"
		}
	}
	a.mu.Lock()
	a.requests[kind]++
	a.mu.Unlock()
	if kind == "list" {
		a.mu.Lock()
		list := &discoveryv1.EndpointSliceList{TypeMeta: metav1.TypeMeta{Kind: "EndpointSliceList", APIVersion: "discovery.k8s.io/v1"},
			ListMeta: metav1.ListMeta{ResourceVersion: strconv.Itoa(a.rv)}}
		for _, sl := range a.slices {
			list.Items = append(list.Items, *sl)
		}
		a.mu.Unlock()
		json.NewEncoder(w).Encode(list)
		return
	}
	ch := make(chan watchEvent, 16)
	a.mu.Lock()
	var initial []watchEvent
	if kind == "watch-list" {
		for _, sl := range a.slices {
			initial = append(initial, watchEvent{Type: "ADDED", Object: sl})
		}
		initial = append(initial, watchEvent{Type: "BOOKMARK", Object: &discoveryv1.EndpointSlice{
			TypeMeta: metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: strconv.Itoa(a.rv),
				Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}},
		}})
	}
	a.events = append(a.events, ch)
	a.mu.Unlock()
	enc := json.NewEncoder(w)
	for _, ev := range initial {
		enc.Encode(ev)
	}
	w.(http.Flusher).Flush()
	for {
		select {
		case ev := <-ch:
			enc.Encode(ev)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
			a.mu.Lock()
			a.events = slices.DeleteFunc(a.events, func(c chan watchEvent) bool { return c == ch })
			a.mu.Unlock()
			return
		}
	}
}

// TestKubeconfigClient runs the source with a kubeconfig file and
// client-go's real REST client against apiServer: the targets follow the
// EndpointSlice as with the fake clientset.
func TestKubeconfigClient(t *testing.T) {
	k := &cluster{t: t, port: testcaddy.FreePort(t)}
	a, b := k.pod("web-a", 2), k.pod("web-b", 3)
	api := startAPIServer(t)
	api.put(k.slice("web-1", testService, ready(a)))
	cd := testcaddy.New(t)
	cd.Load(t, sourceConfig, "{DB}", filepath.Join(t.TempDir(), "registry.db"),
		"{FIELDS}", "", "port http", "port http\n\t\t\t\tkubeconfig "+api.kubeconfig("test-token"))
	waitTargets(t, time.Now(), want(100, a))

	start := time.Now()
	api.put(k.slice("web-1", testService, ready(a), ready(b)))
	t.Logf("over HTTPS: EndpointSlice update to registry change: %v", waitTargets(t, start, want(100, a, b)))
	api.mu.Lock()
	t.Logf("API requests: %v", api.requests)
	api.mu.Unlock()
	proxy(t, cd, 4)
	if a.Hits.Load() != 2 || b.Hits.Load() != 2 {
		t.Fatalf("hits a=%d b=%d, want 2/2", a.Hits.Load(), b.Hits.Load())
	}
}

// TestClientGoErrorsInCaddyLog points the source at an API server that
// refuses its token: client-go's error reaches Caddy's log as a JSON
// entry of the logger kubernetes.client-go, not klog's stderr lines.
func TestClientGoErrorsInCaddyLog(t *testing.T) {
	api := startAPIServer(t)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	cd := testcaddy.New(t)
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d","config":{"persist":false}},
		"logging":{"logs":{"default":{"writer":{"output":"file","filename":%q},"level":"ERROR"}}},
		"apps":{"upstreams":{"store":{"module":"bolt","path":%q},
		"upstreams":[{"name":"web","source":{"module":"kubernetes","namespace":%q,"service":%q,"kubeconfig":%q}}]}}}`,
		cd.AdminPort, logFile, filepath.Join(t.TempDir(), "r.db"), testNamespace, testService, api.kubeconfig("wrong-token"))
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(raw), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(fmt.Sprint(entry["logger"]), "kubernetes.client-go") &&
				strings.Contains(line, "provide credentials") {
				t.Logf("logged: %s", line)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no client-go error in Caddy's log:\n%s", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
