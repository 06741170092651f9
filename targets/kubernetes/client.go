package kubernetes

import (
	"context"
	"fmt"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	discoveryclient "k8s.io/client-go/kubernetes/typed/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// client is the part of a Kubernetes clientset the source uses: the
// discovery.k8s.io/v1 API, where EndpointSlices are. Both client-go's
// generated clientset and its fake implement it; the source builds a
// client for that API group alone so that it does not compile in every
// other group's client.
type client interface {
	DiscoveryV1() discoveryclient.DiscoveryV1Interface
}

// discoveryOnly is a client made of the discovery.k8s.io/v1 API alone.
type discoveryOnly struct {
	api *discoveryclient.DiscoveryV1Client
}

// DiscoveryV1 implements client.
func (d discoveryOnly) DiscoveryV1() discoveryclient.DiscoveryV1Interface { return d.api }

// newClient connects with the kubeconfig file at path, or with the pod's
// service account (in-cluster config) when path is empty. It only builds
// the client: nothing is sent until the source runs.
func newClient(path string) (client, error) {
	var cfg *rest.Config
	var err error
	if path == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set kubeconfig when Caddy does not run in a pod): %w", err)
		}
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
		}
	}
	cfg.UserAgent = "caddy-upstreams"
	api, err := discoveryclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return discoveryOnly{api: api}, nil
}

// clientFor builds the source's client; tests replace it to inject
// client-go's fake clientset (see export_test.go).
var clientFor = newClient

// newEndpointSliceInformer returns an informer over the EndpointSlices of
// one Service: those of the namespace labelled
// kubernetes.io/service-name=<service>, as client-go's generated filtered
// informer builds it.
func newEndpointSliceInformer(c client, namespace, service string) cache.SharedIndexInformer {
	selector := discoveryv1.LabelServiceName + "=" + service
	api := func() discoveryclient.EndpointSliceInterface { return c.DiscoveryV1().EndpointSlices(namespace) }
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return api().List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return api().Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, c),
		&discoveryv1.EndpointSlice{},
		cache.SharedIndexInformerOptions{ObjectDescription: "EndpointSlices of Service " + namespace + "/" + service},
	)
}
