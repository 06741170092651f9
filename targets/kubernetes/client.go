package kubernetes

import (
	"context"
	"fmt"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// client is what the source needs of the Kubernetes API: the
// EndpointSlices of a namespace (restClient).
type client interface {
	endpointSlices(namespace string) endpointSlices
}

// endpointSlices lists and watches EndpointSlices, as client-go's typed
// EndpointSliceInterface does.
type endpointSlices interface {
	List(ctx context.Context, opts metav1.ListOptions) (*discoveryv1.EndpointSliceList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// scheme knows the discovery.k8s.io/v1 types and nothing else: client-go's
// generated clientset registers every API group, which would compile all
// of k8s.io/api into Caddy.
var scheme = runtime.NewScheme()

func init() {
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	utilruntime.Must(discoveryv1.AddToScheme(scheme))
}

// parameterCodec encodes list options into query parameters.
var parameterCodec = runtime.NewParameterCodec(scheme)

// restClient talks to the discovery.k8s.io/v1 API over HTTPS, as the
// generated typed client does.
type restClient struct{ rc *rest.RESTClient }

// newClient connects with the kubeconfig file at path, or with the pod's
// service account (in-cluster config) when path is empty. It only builds
// the client: nothing is sent until the source runs.
func newClient(path string) (client, error) {
	cfg, err := RESTConfig(path)
	if err != nil {
		return nil, err
	}
	cfg.GroupVersion = &discoveryv1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return restClient{rc: rc}, nil
}

// RESTConfig returns the client configuration of the kubeconfig file at
// path, or of the pod's service account (in-cluster config) when path is
// empty, with the project's user agent. Nothing is sent to the cluster.
func RESTConfig(path string) (*rest.Config, error) {
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
	return cfg, nil
}

// endpointSlices implements client.
func (c restClient) endpointSlices(namespace string) endpointSlices {
	return namespacedSlices{rc: c.rc, namespace: namespace}
}

// namespacedSlices are the EndpointSlices of one namespace.
type namespacedSlices struct {
	rc        *rest.RESTClient
	namespace string
}

// List implements endpointSlices.
func (s namespacedSlices) List(ctx context.Context, opts metav1.ListOptions) (*discoveryv1.EndpointSliceList, error) {
	list := &discoveryv1.EndpointSliceList{}
	err := s.request(opts).Do(ctx).Into(list)
	return list, err
}

// Watch implements endpointSlices.
func (s namespacedSlices) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return s.request(opts).Watch(ctx)
}

func (s namespacedSlices) request(opts metav1.ListOptions) *rest.Request {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	return s.rc.Get().Namespace(s.namespace).Resource("endpointslices").
		VersionedParams(&opts, parameterCodec).Timeout(timeout)
}

// newEndpointSliceInformer returns an informer over the EndpointSlices of
// one Service: those of the namespace labelled
// kubernetes.io/service-name=<service>, listed and watched as client-go's
// generated filtered informer does.
func newEndpointSliceInformer(c client, namespace, service string) cache.SharedIndexInformer {
	selector := discoveryv1.LabelServiceName + "=" + service
	api := c.endpointSlices(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return api.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return api.Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, c),
		&discoveryv1.EndpointSlice{},
		cache.SharedIndexInformerOptions{ObjectDescription: "EndpointSlices of Service " + namespace + "/" + service},
	)
}
