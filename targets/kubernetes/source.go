// Package kubernetes is the target source upstreams.sources.kubernetes: an
// upstream's targets follow the ready endpoints of a Kubernetes Service,
// read from its EndpointSlices through a client-go informer, with no
// Ingress controller in between.
package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

func init() {
	caddy.RegisterModule(Source{})
}

// Defaults of the source's fields.
const (
	defaultNamespace = "default"
	defaultWeight    = 100
)

// Source is the Caddy module upstreams.sources.kubernetes. It watches the
// EndpointSlices of one Service (label kubernetes.io/service-name) and
// reports their endpoints as the upstream's targets within milliseconds of
// a change: ready endpoints take traffic with Weight, terminating ones
// finish their requests and take no new ones, others are left out.
//
// JSON: {"module": "kubernetes", "namespace": "default", "service": "web",
// "port": "http", "kubeconfig": "/path", "weight": 100}.
type Source struct {
	// Namespace of the Service. Default: "default".
	Namespace string `json:"namespace,omitempty"`
	// Service is the Service's name. Required.
	Service string `json:"service,omitempty"`
	// Port selects the endpoints' port: a Service port name ("http"), or a
	// number, which is the port on the pods (the Service's targetPort, as
	// EndpointSlices list it). Empty: the Service's only port.
	Port Port `json:"port,omitempty"`
	// Kubeconfig is the path of a kubeconfig file (placeholders such as
	// {env.KUBECONFIG} are expanded). Empty: the in-cluster config of the
	// pod Caddy runs in (its service account).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Weight of every ready endpoint, 1 to 65535. Default: 100.
	Weight int `json:"weight,omitempty"`

	client client
	logger *zap.Logger
}

// Port is a port name or number; JSON accepts "http", "8080" and 8080.
type Port string

// UnmarshalJSON accepts a string or a number.
func (p *Port) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*p = Port(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("port: expected a name or a number")
	}
	*p = Port(s)
	return nil
}

// CaddyModule returns the Caddy module information.
func (Source) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  targets.SourceNamespace + ".kubernetes",
		New: func() caddy.Module { return new(Source) },
	}
}

// Provision applies defaults and builds the Kubernetes client (nothing is
// sent to the cluster until Run).
func (s *Source) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.Namespace == "" {
		s.Namespace = defaultNamespace
	}
	if s.Weight == 0 {
		s.Weight = defaultWeight
	}
	if err := s.Validate(); err != nil {
		return err
	}
	path := caddy.NewReplacer().ReplaceKnown(s.Kubeconfig, "")
	c, err := newClient(path)
	if err != nil {
		return fmt.Errorf("kubernetes source: %w", err)
	}
	s.client = c
	return nil
}

// Validate checks the fields.
func (s *Source) Validate() error {
	if s.Service == "" {
		return fmt.Errorf("kubernetes source: service is required")
	}
	if s.Weight < 1 || s.Weight > 65535 {
		return fmt.Errorf("kubernetes source: weight must be between 1 and 65535, got %d", s.Weight)
	}
	if n, err := strconv.Atoi(string(s.Port)); err == nil && (n < 1 || n > 65535) {
		return fmt.Errorf("kubernetes source: port must be between 1 and 65535, got %d", n)
	}
	return nil
}

// String names the watched Service in the registry's messages.
func (s *Source) String() string {
	desc := "Service " + s.Namespace + "/" + s.Service
	if s.Port != "" {
		desc += ", port " + string(s.Port)
	}
	return desc
}

// Run implements targets.Source: it runs an EndpointSlice informer for the
// Service and reports the full set of endpoints once the informer has
// listed them, then after every change, until ctx is cancelled. client-go
// retries failed lists and watches on its own.
func (s *Source) Run(ctx context.Context, sink targets.Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	informer := newEndpointSliceInformer(s.client, s.Namespace, s.Service)
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default: // a recount is already pending; it will see this change
		}
	}
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	})
	if err != nil {
		cancel()
		return err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		informer.RunWithContext(ctx)
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-reg.HasSyncedChecker().Done():
	}
	s.logger.Info("watching EndpointSlices", zap.String("service", s.Namespace+"/"+s.Service))
	var last []targets.Endpoint
	for {
		eps := endpointsOf(s.slices(informer.GetStore()), s.Service, portSelector(s.Port), s.Weight)
		if last == nil || !reflect.DeepEqual(eps, last) {
			sink.Update(eps)
			last = eps
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// slices returns the EndpointSlices in the informer's store.
func (s *Source) slices(store cache.Store) []*discoveryv1.EndpointSlice {
	objs := store.List()
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, sl)
		}
	}
	return out
}

// Interface guards
var (
	_ targets.Source    = (*Source)(nil)
	_ caddy.Provisioner = (*Source)(nil)
	_ caddy.Validator   = (*Source)(nil)
	_ fmt.Stringer      = (*Source)(nil)
)
