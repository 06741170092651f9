package ingress

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// scheme knows the core/v1, networking.k8s.io/v1 and discovery.k8s.io/v1
// types, and nothing else: client-go's generated clientset would compile
// every API group into Caddy.
var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(networkingv1.AddToScheme(scheme))
	utilruntime.Must(discoveryv1.AddToScheme(scheme))
}

var parameterCodec = runtime.NewParameterCodec(scheme)

// restFor returns a REST client of one API group version.
func restFor(cfg *rest.Config, gv schema.GroupVersion) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	if gv.Group == "" {
		c.APIPath = "/api"
	}
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	return rest.RESTClientFor(c)
}

// resource lists and watches one resource of a namespace ("" for all, or
// a cluster-scoped resource), optionally by field selector.
func resource(rc rest.Interface, name, namespace, fieldSelector string, newList func() runtime.Object) *cache.ListWatch {
	req := func(opts metav1.ListOptions) *rest.Request {
		if fieldSelector != "" {
			opts.FieldSelector = fieldSelector
		}
		var timeout time.Duration
		if opts.TimeoutSeconds != nil {
			timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
		}
		return rc.Get().Namespace(namespace).Resource(name).VersionedParams(&opts, parameterCodec).Timeout(timeout)
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := newList()
			return list, req(opts).Do(ctx).Into(list)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return req(opts).Watch(ctx)
		},
	}
}

// watcher holds the informers of one controller run.
type watcher struct {
	core, networking *rest.RESTClient
	dyn              dynamic.Interface
	namespaces       []string // "" for all
	publishService   string

	ingresses, services, slices, policies []cache.SharedIndexInformer
	classes, publish                      cache.SharedIndexInformer
	policiesInstalled                     bool
}

// newWatch builds the clients and informers (nothing runs yet).
func newWatch(cfg *rest.Config, namespaces []string, publishService string) (*watcher, error) {
	w := &watcher{namespaces: namespaces, publishService: publishService}
	if len(w.namespaces) == 0 {
		w.namespaces = []string{metav1.NamespaceAll}
	}
	var err error
	if w.core, err = restFor(cfg, corev1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	if w.networking, err = restFor(cfg, networkingv1.SchemeGroupVersion); err != nil {
		return nil, err
	}
	discovery, err := restFor(cfg, discoveryv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	if w.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	informer := func(lw *cache.ListWatch, obj runtime.Object, what string) cache.SharedIndexInformer {
		return cache.NewSharedIndexInformerWithOptions(lw, obj, cache.SharedIndexInformerOptions{ObjectDescription: what})
	}
	for _, ns := range w.namespaces {
		w.ingresses = append(w.ingresses, informer(resource(w.networking, "ingresses", ns, "",
			func() runtime.Object { return &networkingv1.IngressList{} }), &networkingv1.Ingress{}, "Ingresses"))
		w.services = append(w.services, informer(resource(w.core, "services", ns, "",
			func() runtime.Object { return &corev1.ServiceList{} }), &corev1.Service{}, "Services"))
		w.slices = append(w.slices, informer(resource(discovery, "endpointslices", ns, "",
			func() runtime.Object { return &discoveryv1.EndpointSliceList{} }), &discoveryv1.EndpointSlice{}, "EndpointSlices"))
	}
	w.classes = informer(resource(w.networking, "ingressclasses", "", "",
		func() runtime.Object { return &networkingv1.IngressClassList{} }), &networkingv1.IngressClass{}, "IngressClasses")
	if ns, name, ok := strings.Cut(publishService, "/"); ok {
		w.publish = informer(resource(w.core, "services", ns, "metadata.name="+name,
			func() runtime.Object { return &corev1.ServiceList{} }), &corev1.Service{}, "publish Service")
	}
	return w, nil
}

// addPolicyInformers watches KongUpstreamPolicies if their CRD is
// installed (a first list answers 404 when it is not).
func (w *watcher) addPolicyInformers(ctx context.Context, logger *zap.Logger) error {
	_, err := w.dyn.Resource(upstreamPolicyGVR).Namespace(w.namespaces[0]).List(ctx, metav1.ListOptions{Limit: 1})
	if apierrors.IsNotFound(err) {
		logger.Warn("the KongUpstreamPolicy CRD (configuration.konghq.com/v1beta1) is not installed; " +
			"konghq.com/upstream-policy annotations are reported and ignored (restart the watch after installing it)")
		return nil
	}
	if apierrors.IsForbidden(err) {
		logger.Warn("listing KongUpstreamPolicies is forbidden; konghq.com/upstream-policy annotations are reported and ignored", zap.Error(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing KongUpstreamPolicies: %w", err)
	}
	w.policiesInstalled = true
	for _, ns := range w.namespaces {
		api := w.dyn.Resource(upstreamPolicyGVR).Namespace(ns)
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return api.List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return api.Watch(ctx, opts)
			},
		}
		w.policies = append(w.policies, cache.NewSharedIndexInformerWithOptions(lw, &unstructured.Unstructured{},
			cache.SharedIndexInformerOptions{ObjectDescription: "KongUpstreamPolicies"}))
	}
	return nil
}

func (w *watcher) all() []cache.SharedIndexInformer {
	all := append(append(append(append([]cache.SharedIndexInformer{w.classes}, w.ingresses...), w.services...), w.slices...), w.policies...)
	if w.publish != nil {
		all = append(all, w.publish)
	}
	return all
}

// run starts the informers and publishes a translation once all have
// listed their objects, then after every change, until ctx ends.
func (w *watcher) run(ctx context.Context, c *Controller, reg *upstreams.Registry, owner any) error {
	logger := c.logger
	if err := w.addPolicyInformers(ctx, logger); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default: // a translation is pending already; it will see this change
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { notify() }, UpdateFunc: func(any, any) { notify() }, DeleteFunc: func(any) { notify() },
	}
	var synced []<-chan struct{}
	for _, inf := range w.all() {
		h, err := inf.AddEventHandler(handler)
		if err != nil {
			cancel()
			return err
		}
		synced = append(synced, h.HasSyncedChecker().Done())
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done := make(chan struct{})
		for _, inf := range w.all() {
			go func() {
				inf.RunWithContext(ctx)
				done <- struct{}{}
			}()
		}
		for range w.all() {
			<-done
		}
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	for _, s := range synced {
		select {
		case <-ctx.Done():
			return nil
		case <-s:
		}
	}
	logger.Info("watching Ingresses", zap.String("ingress_class", c.IngressClass), zap.Strings("namespaces", c.WatchNamespaces))
	rep := newReporter(w.core, logger)
	for {
		start := time.Now()
		objs := w.objects(c.IngressClass)
		tr := translate(objs)
		reg.SetManaged(owner, managedLabel, upstreams.ManagedEntities{Config: tr.config, Endpoints: tr.endpoints})
		logger.Debug("published the Ingress translation", zap.Int("ingresses", len(objs.ingresses)),
			zap.Int("services", len(tr.config.Services)), zap.Int("routes", len(tr.config.Routes)),
			zap.Duration("took", time.Since(start)))
		rep.report(ctx, tr.problems)
		w.publishStatus(ctx, c, objs.ingresses, tr, logger)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// objects reads the informers' stores: the Ingresses of our class and the
// objects they may reference.
func (w *watcher) objects(class string) objects {
	classes := map[string]*networkingv1.IngressClass{}
	for _, o := range w.classes.GetStore().List() {
		if ic, ok := o.(*networkingv1.IngressClass); ok {
			classes[ic.Name] = ic
		}
	}
	out := objects{services: map[string]*corev1.Service{}, slices: map[string][]*discoveryv1.EndpointSlice{}}
	for _, inf := range w.ingresses {
		for _, o := range inf.GetStore().List() {
			if ing, ok := o.(*networkingv1.Ingress); ok && ours(ing, class, classes) {
				out.ingresses = append(out.ingresses, ing)
			}
		}
	}
	for _, inf := range w.services {
		for _, o := range inf.GetStore().List() {
			if svc, ok := o.(*corev1.Service); ok {
				out.services[svc.Namespace+"/"+svc.Name] = svc
			}
		}
	}
	for _, inf := range w.slices {
		for _, o := range inf.GetStore().List() {
			if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
				key := sl.Namespace + "/" + sl.Labels[discoveryv1.LabelServiceName]
				out.slices[key] = append(out.slices[key], sl)
			}
		}
	}
	if w.policiesInstalled {
		out.policies = map[string]*UpstreamPolicy{}
		for _, inf := range w.policies {
			for _, o := range inf.GetStore().List() {
				u, ok := o.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				p, err := policyFromUnstructured(u)
				if err != nil {
					continue // the CRD's validation makes this unlikely; the Service reports it as not found
				}
				out.policies[p.Namespace+"/"+p.Name] = p
			}
		}
	}
	return out
}

// Annotations of Ingress classes.
const (
	legacyClassAnnotation  = "kubernetes.io/ingress.class"
	defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
)

// ours reports whether an Ingress is of the class served: by
// spec.ingressClassName (the class's name, or an IngressClass whose
// controller is KIC's), by the legacy annotation, or, with neither, when
// the cluster's default IngressClass is ours.
func ours(ing *networkingv1.Ingress, class string, classes map[string]*networkingv1.IngressClass) bool {
	ourClass := func(ic *networkingv1.IngressClass) bool {
		return ic != nil && (ic.Name == class || ic.Spec.Controller == kongControllerName)
	}
	if n := ing.Spec.IngressClassName; n != nil {
		return *n == class || ourClass(classes[*n])
	}
	if v, ok := ing.Annotations[legacyClassAnnotation]; ok {
		return v == class
	}
	for _, ic := range classes {
		if ic.Annotations[defaultClassAnnotation] == "true" && ourClass(ic) {
			return true
		}
	}
	return false
}
