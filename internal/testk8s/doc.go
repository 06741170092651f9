// Package testk8s runs a real Kubernetes control plane for tests, without
// containers and without a kubelet: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (which plays a node and
// makes pods Running and Ready with IPs from PodCIDR), all on loopback inside
// a private network namespace the test binary enters itself.
//
// A package that uses it calls Main from its TestMain; its tests call Start,
// which starts the plane once per test binary and returns it:
//
//	func TestMain(m *testing.M) { os.Exit(testk8s.Main(m)) }
//
//	func TestScale(t *testing.T) {
//		p := testk8s.Start(t)
//		p.Apply(t, "testdata/kubernetes/echo.yaml")
//		p.ServePods(t, "testing", "app=echo", 1027)
//		...
//	}
//
// The binaries come from scripts/k8s-binaries.sh (see BinDir). Inside the
// namespace, lo carries 127.0.0.1 and PodCIDR, so the API server accepts
// pod IPs as endpoint addresses (it refuses 127/8 there), processes of the
// test listen on pod IPs, and no packet can leave the namespace.
package testk8s
