package testk8s

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Headers a pod server sets on every answer.
const (
	HeaderPodName = "X-Pod-Name"
	HeaderPodIP   = "X-Pod-IP"
	// HeaderRequestHost echoes the Host the request arrived with.
	HeaderRequestHost = "X-Request-Host"
)

// maxSleep bounds the ?sleep= a request may ask a pod server for.
const maxSleep = 30 * time.Second

// PodServers are the HTTP servers ServePods keeps on the IPs of a set of
// pods, standing in for the pods' containers.
type PodServers struct {
	port    int
	mu      sync.Mutex
	servers map[types.UID]*podServer
	hits    map[string]*atomic.Int64 // by pod name
}

// podServer serves one pod from the moment it has an IP until it is gone
// from the API.
type podServer struct {
	name, ip string
	quit     chan struct{} // closed (once, by stop) to stop the server
	quitOnce sync.Once
	done     chan struct{} // closed when the server has stopped
	serving  atomic.Bool
}

// stop stops the server, letting requests in flight finish (5 s at most),
// and returns when it has stopped.
func (ps *podServer) stop() {
	ps.quitOnce.Do(func() { close(ps.quit) })
	<-ps.done
}

// ServePods keeps an HTTP server listening on <podIP>:port for every pod
// of namespace ns matching labelSelector while the test runs: pods come
// and go with scaling. A server starts once kwok gave the pod its IP,
// keeps serving while the pod terminates (a draining application), and
// stops, letting requests in flight finish, when the pod is removed from
// the API. Each answers with "<pod name> <pod IP> <request URI>" and the
// headers HeaderPodName, HeaderPodIP and HeaderRequestHost, so tests can
// tell pods apart; a request with ?sleep=<duration> (at most 30 s) is
// answered that much later.
func (p *Plane) ServePods(t testing.TB, ns, labelSelector string, port int) *PodServers {
	t.Helper()
	s := &PodServers{port: port, servers: map[types.UID]*podServer{}, hits: map[string]*atomic.Int64{}}
	api := p.Client.CoreV1().Pods(ns)
	informer := cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = labelSelector
			return api.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = labelSelector
			return api.Watch(ctx, opts)
		},
	}, &corev1.Pod{}, 0, cache.Indexers{})
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.seen(obj) },
		UpdateFunc: func(_, obj any) { s.seen(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				s.removed(pod.UID)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		informer.Run(stop)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		close(stop)
		<-stopped
		t.Fatalf("pods of %s (%s): the informer did not sync", ns, labelSelector)
	}
	t.Cleanup(func() {
		close(stop)
		<-stopped
		s.mu.Lock()
		uids := make([]types.UID, 0, len(s.servers))
		for uid := range s.servers {
			uids = append(uids, uid)
		}
		s.mu.Unlock()
		for _, uid := range uids {
			s.removed(uid)
		}
	})
	return s
}

// seen starts a server for a pod that has an IP and none yet.
func (s *PodServers) seen(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Status.PodIP == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.servers[pod.UID]; exists {
		return
	}
	ps := &podServer{name: pod.Name, ip: pod.Status.PodIP, quit: make(chan struct{}), done: make(chan struct{})}
	s.servers[pod.UID] = ps
	if s.hits[pod.Name] == nil {
		s.hits[pod.Name] = new(atomic.Int64)
	}
	go s.serve(ps, s.hits[pod.Name])
}

// removed stops the server of a pod that left the API.
func (s *PodServers) removed(uid types.UID) {
	s.mu.Lock()
	ps, ok := s.servers[uid]
	delete(s.servers, uid)
	s.mu.Unlock()
	if ok {
		ps.stop()
	}
}

// Stop stops the server of a pod that stays in the API, Ready, as a
// container that crashed before its readiness probe noticed: connections
// to its IP are refused from then on. It fails the test when no server of
// that pod runs.
func (s *PodServers) Stop(t testing.TB, podName string) {
	t.Helper()
	s.mu.Lock()
	var found *podServer
	for _, ps := range s.servers {
		if ps.name == podName {
			found = ps
		}
	}
	s.mu.Unlock()
	if found == nil {
		t.Fatalf("no server of pod %s", podName)
	}
	found.stop()
}

// serve listens on the pod's IP (retrying while a pod that had the IP
// before still holds it) and serves until stopped.
func (s *PodServers) serve(ps *podServer, hits *atomic.Int64) {
	defer close(ps.done)
	addr := net.JoinHostPort(ps.ip, strconv.Itoa(s.port))
	var ln net.Listener
	for {
		var err error
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		select {
		case <-ps.quit:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv := &http.Server{Handler: ps.handler(hits), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ps.serving.Store(true)
	<-ps.quit
	ps.serving.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		srv.Close()
	}
	<-served // http.ErrServerClosed
}

// handler answers with the pod's name and IP and the request URI.
func (ps *podServer) handler(hits *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil && d > 0 {
			time.Sleep(min(d, maxSleep))
		}
		w.Header().Set(HeaderPodName, ps.name)
		w.Header().Set(HeaderPodIP, ps.ip)
		w.Header().Set(HeaderRequestHost, r.Host)
		fmt.Fprintf(w, "%s %s %s\n", ps.name, ps.ip, r.RequestURI)
	})
}

// Serving returns the names of the pods whose server listens now.
func (s *PodServers) Serving() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, ps := range s.servers {
		if ps.serving.Load() {
			names = append(names, ps.name)
		}
	}
	return names
}

// Hits returns how many requests each pod (by name) has answered so far.
func (s *PodServers) Hits() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.hits))
	for name, n := range s.hits {
		out[name] = n.Load()
	}
	return out
}

// WaitServing waits (30 s at most) until exactly n pods are served.
func (s *PodServers) WaitServing(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.Serving()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d pods served (%v), want %d", len(s.Serving()), s.Serving(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
