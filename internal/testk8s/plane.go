package testk8s

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Addresses of the plane inside the namespace (nothing else listens there).
const (
	etcdURL     = "http://127.0.0.1:2379"
	etcdPeerURL = "http://127.0.0.1:2380"
	// APIServerURL is the API server's address in the kubeconfig.
	APIServerURL = "https://127.0.0.1:6443"
	// ServiceCIDR is the range of Services' cluster IPs; nothing dials
	// them (there is no kube-proxy).
	ServiceCIDR = "10.96.0.0/24"
	// NodeName is the one node kwok plays; the scheduler binds every pod
	// to it.
	NodeName = "kwok-node-0"
)

// startTimeout bounds each step of the plane's start-up.
const startTimeout = 90 * time.Second

// Plane is a running control plane. It lives until Main returns; tests
// share it, so each works in namespaces of its own.
type Plane struct {
	// Kubeconfig is the path of an admin kubeconfig (group system:masters).
	Kubeconfig string
	// Config is the admin client configuration.
	Config *rest.Config
	// Client is a typed admin clientset.
	Client kubernetes.Interface
	// StartedIn is how long the plane took to start until a node was Ready
	// and the controllers ran.
	StartedIn time.Duration

	dir       string
	pki       *pki
	processes []*process // in start order
}

var (
	planeMu  sync.Mutex
	plane    *Plane
	planeErr error
)

// Start starts, once per test binary, etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (one fake node; pods
// become Running and Ready with IPs from PodCIDR) on loopback, and returns
// the plane; later calls return the same plane. When the binaries are
// missing or no private network namespace could be made, the test is
// skipped with the reason, except under CI=true, where it fails.
func Start(t testing.TB) *Plane {
	t.Helper()
	if unavailable != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Kubernetes control plane (CI=true, so not skipped): %s", unavailable)
		}
		t.Skipf("no Kubernetes control plane: %s", unavailable)
	}
	planeMu.Lock()
	defer planeMu.Unlock()
	if plane == nil && planeErr == nil {
		plane, planeErr = startPlane()
		if planeErr != nil {
			plane = nil // startPlane stopped what it had started
		} else {
			t.Logf("Kubernetes control plane %s started in %v; %s", KubernetesVersion, plane.StartedIn.Round(time.Millisecond), plane.MemoryReport())
		}
	}
	if planeErr != nil {
		t.Fatalf("starting the Kubernetes control plane: %v", planeErr)
	}
	return plane
}

// startPlane starts every process in order, each once the previous one
// answers.
func startPlane() (p *Plane, err error) {
	started := time.Now()
	dir, err := os.MkdirTemp("", "testk8s-")
	if err != nil {
		return nil, err
	}
	p = &Plane{dir: dir}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	if p.pki, err = newPKI(dir); err != nil {
		return p, err
	}
	etcd, err := p.start("etcd",
		"--name", "testk8s", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", etcdPeerURL, "--initial-advertise-peer-urls", etcdPeerURL,
		"--initial-cluster", "testk8s="+etcdPeerURL,
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return p, err
	}
	if err = waitUntil(etcd, "etcd to be healthy", func() bool {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return p, err
	}
	apiserver, err := p.start("kube-apiserver",
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", "6443",
		"--cert-dir", dir,
		"--tls-cert-file", p.pki.serverCert, "--tls-private-key-file", p.pki.serverKey,
		"--client-ca-file", p.pki.caCert,
		"--service-account-key-file", p.pki.serviceAccountKey,
		"--service-account-signing-key-file", p.pki.serviceAccountKey,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", ServiceCIDR,
		"--authorization-mode", "RBAC",
		"--endpoint-reconciler-type", "none",
		// no token volume for pods: nothing in a kwok pod reads it, and pods
		// need not wait for their namespace's default ServiceAccount
		"--disable-admission-plugins", "ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--profiling=false")
	if err != nil {
		return p, err
	}
	p.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err = os.WriteFile(p.Kubeconfig, p.kubeconfig(""), 0o600); err != nil {
		return p, err
	}
	if p.Config, err = clientcmd.BuildConfigFromFlags("", p.Kubeconfig); err != nil {
		return p, err
	}
	p.Config.QPS, p.Config.Burst = 200, 400
	if p.Client, err = kubernetes.NewForConfig(p.Config); err != nil {
		return p, err
	}
	if err = waitUntil(apiserver, "kube-apiserver to be ready", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		body, err := p.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && strings.TrimSpace(string(body)) == "ok"
	}); err != nil {
		return p, err
	}
	controllerAuth := []string{"--kubeconfig", p.Kubeconfig,
		"--authentication-kubeconfig", p.Kubeconfig, "--authorization-kubeconfig", p.Kubeconfig,
		"--authentication-skip-lookup=true", "--bind-address", "127.0.0.1", "--cert-dir", dir,
		"--leader-elect=false", "--profiling=false"}
	cm, err := p.start("kube-controller-manager", append(controllerAuth,
		"--controllers", "*",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file", p.pki.serviceAccountKey,
		"--root-ca-file", p.pki.caCert,
		"--secure-port", "10257")...)
	if err != nil {
		return p, err
	}
	if _, err = p.start("kube-scheduler", append(controllerAuth, "--secure-port", "10259")...); err != nil {
		return p, err
	}
	stages := filepath.Join(dir, "kwok-stages.yaml")
	if err = writeStages(stages); err != nil {
		return p, err
	}
	kwok, err := p.start("kwok",
		"--kubeconfig", p.Kubeconfig,
		"--config", stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", kwokNodeAnnotation+"=fake",
		"--cidr", PodCIDR,
		"--node-ip", nodeIP)
	if err != nil {
		return p, err
	}
	if err = p.createNode(); err != nil {
		return p, err
	}
	if err = waitUntil(kwok, "kwok to make node "+NodeName+" Ready", func() bool {
		node, err := p.Client.CoreV1().Nodes().Get(context.Background(), NodeName, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}); err != nil {
		return p, err
	}
	// the ServiceAccount controller makes "default" in every namespace:
	// once it exists, the controllers run
	if err = waitUntil(cm, "kube-controller-manager to run its controllers", func() bool {
		_, err := p.Client.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return p, err
	}
	p.StartedIn = time.Since(started)
	return p, nil
}

// start starts one binary of the plane and remembers it for stop.
func (p *Plane) start(name string, args ...string) (*process, error) {
	proc, err := startProcess(p.dir, name, args...)
	if err != nil {
		return nil, err
	}
	p.processes = append(p.processes, proc)
	return proc, nil
}

// waitUntil polls ready every 50 ms for startTimeout; it gives up early,
// with the end of its log, when the process exits.
func waitUntil(proc *process, what string, ready func() bool) error {
	deadline := time.Now().Add(startTimeout)
	for !ready() {
		if !proc.running() {
			return fmt.Errorf("%s exited while waiting for %s; its log ends:\n%s", proc.name, what, proc.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s; %s's log ends:\n%s", startTimeout, what, proc.name, proc.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// MemoryReport renders the resident memory of the plane's processes, now
// and at their peak.
func (p *Plane) MemoryReport() string {
	var total, totalPeak int64
	var parts []string
	for _, proc := range p.processes {
		rss, peak := proc.memory()
		total += rss
		totalPeak += peak
		parts = append(parts, fmt.Sprintf("%s %d", proc.name, rss>>20))
	}
	return fmt.Sprintf("RSS %d MiB (peaks summed %d MiB): %s MiB", total>>20, totalPeak>>20, strings.Join(parts, ", "))
}

// stop stops the processes in reverse start order (kwok and the
// controllers, then the API server, then etcd) and removes the directory.
func (p *Plane) stop() {
	for i := len(p.processes) - 1; i >= 0; i-- {
		p.processes[i].stop()
	}
	os.RemoveAll(p.dir)
}

// stopPlane stops the plane, if one was started, when the tests are done
// (their own clients, Caddy instances and pod servers stopped with them).
func stopPlane() {
	planeMu.Lock()
	defer planeMu.Unlock()
	if plane == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "testk8s: control plane started in %v; at the end: %s\n",
		plane.StartedIn.Round(time.Millisecond), plane.MemoryReport())
	plane.stop()
	plane = nil
}

// ignoreExists turns "already exists" into success.
func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
