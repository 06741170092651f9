// Package ingress is the Kubernetes Ingress controller of the upstreams
// app (module upstreams.controllers.kubernetes): it watches Ingresses of
// its class, the Services they name, those Services' EndpointSlices and
// the KongUpstreamPolicies the Services name, and keeps the registry's
// managed layer equal to the services, routes, upstreams and targets Kong's
// Ingress Controller (KIC 3) would create for them.
package ingress

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/caddy-upstreams/caddy-upstreams/targets/kubernetes"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func init() {
	caddy.RegisterModule(Controller{})
}

// Defaults and constants of the controller.
const (
	defaultIngressClass = "kong"
	// kongControllerName is the spec.controller of KIC's IngressClasses.
	kongControllerName = "ingress-controllers.konghq.com/kong"
	// managedLabel names the controller in the Admin API's refusals.
	managedLabel = "Kubernetes Ingress controller"
)

// Controller is the Caddy module upstreams.controllers.kubernetes,
// configured by the upstreams app's "kubernetes" field. Every Caddy node
// runs one watch of its own; what it makes is held in the node's memory,
// never in the store.
type Controller struct {
	// Kubeconfig is the path of a kubeconfig file (placeholders expanded).
	// Empty: the in-cluster config of the pod Caddy runs in.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// IngressClass is the class served: Ingresses whose
	// spec.ingressClassName (or legacy kubernetes.io/ingress.class
	// annotation) is this name, or names an IngressClass whose
	// spec.controller is ingress-controllers.konghq.com/kong, or that have
	// no class when the default IngressClass is ours. Default: "kong".
	IngressClass string `json:"ingress_class,omitempty"`
	// WatchNamespaces limits the watch to these namespaces. Empty: all.
	WatchNamespaces []string `json:"watch_namespaces,omitempty"`
	// PublishService is the "namespace/name" of the Service in front of
	// Caddy: its load-balancer addresses (or else its cluster IP) are
	// written to the status of the Ingresses served.
	PublishService string `json:"publish_service,omitempty"`
	// PublishAddresses are IPs or hostnames written to the status of the
	// Ingresses served; they win over PublishService.
	PublishAddresses []string `json:"publish_address,omitempty"`

	config *rest.Config
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Controller) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  upstreams.ControllerNamespace + ".kubernetes",
		New: func() caddy.Module { return new(Controller) },
	}
}

// Provision applies defaults, checks the fields and builds the client
// configuration (nothing is sent to the cluster before Run).
func (c *Controller) Provision(ctx caddy.Context) error {
	c.logger = ctx.Logger()
	if c.IngressClass == "" {
		c.IngressClass = defaultIngressClass
	}
	if err := c.Validate(); err != nil {
		return err
	}
	cfg, err := kubernetes.RESTConfig(caddy.NewReplacer().ReplaceKnown(c.Kubeconfig, ""))
	if err != nil {
		return fmt.Errorf("kubernetes controller: %w", err)
	}
	c.config = cfg
	return nil
}

// Validate checks the fields.
func (c *Controller) Validate() error {
	if c.PublishService != "" {
		ns, name, ok := strings.Cut(c.PublishService, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return fmt.Errorf("kubernetes controller: publish_service: expected namespace/name, got %q", c.PublishService)
		}
	}
	for _, a := range c.PublishAddresses {
		if a == "" || (net.ParseIP(a) == nil && strings.ContainsAny(a, "/: ")) {
			return fmt.Errorf("kubernetes controller: publish_address: expected an IP address or a hostname, got %q", a)
		}
	}
	return nil
}

// Run implements upstreams.Controller: it watches the objects and
// publishes the translation after every change until ctx is cancelled.
func (c *Controller) Run(ctx context.Context, reg *upstreams.Registry, owner any) error {
	w, err := newWatch(c.config, c.WatchNamespaces, c.PublishService)
	if err != nil {
		return err
	}
	return w.run(ctx, c, reg, owner)
}

// Interface guards
var (
	_ upstreams.Controller = (*Controller)(nil)
	_ caddy.Provisioner    = (*Controller)(nil)
	_ caddy.Validator      = (*Controller)(nil)
)
