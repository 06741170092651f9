package kongproxy

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/routing"
)

// compiled is a router built from one gateway snapshot.
type compiled struct {
	gateway *upstreams.Gateway
	router  *routing.Router
	// services are the services the router's routes lead to, by id.
	services map[string]*serviceEntry
}

// serviceEntry is a service of a compiled snapshot and what proxies its
// requests. It is complete (proxy or err set) before the snapshot is
// published, and never changes after.
type serviceEntry struct {
	service *upstreams.Service
	// dial is the service's host:port, where requests go when its host
	// names no registry upstream.
	dial  string
	proxy *sharedProxy
	err   error // why no proxy could be built
}

// routeTable keeps the router of the registry's current gateway snapshot.
// A watcher goroutine recompiles it whenever the snapshot is superseded,
// off the request path; the request path only loads an atomic pointer and
// compares it with the registry's snapshot. A request that arrives between
// a change and the watcher's rebuild compiles the new snapshot itself,
// once (concurrent requests wait for the same build), so a change is
// always routed by the request that follows the write.
type routeTable struct {
	registry *upstreams.Registry
	logger   *zap.Logger
	onBuild  func(*compiled) // called after each build, under mu, before the build is published

	mu      sync.Mutex
	current atomic.Pointer[compiled]
	stop    chan struct{}
	done    chan struct{}
}

// newRouteTable compiles the current snapshot and starts the watcher.
func newRouteTable(reg *upstreams.Registry, logger *zap.Logger, onBuild func(*compiled)) *routeTable {
	t := &routeTable{registry: reg, logger: logger, onBuild: onBuild, stop: make(chan struct{}), done: make(chan struct{})}
	first := t.refresh(reg.Gateway())
	go t.watch(first.gateway)
	return t
}

// watch rebuilds on every superseded snapshot until close.
func (t *routeTable) watch(gw *upstreams.Gateway) {
	defer close(t.done)
	for {
		select {
		case <-gw.Superseded():
		case <-t.stop:
			return
		}
		gw = t.refresh(t.registry.Gateway()).gateway
	}
}

// close stops the watcher.
func (t *routeTable) close() {
	close(t.stop)
	<-t.done
}

// get returns the router of the registry's current snapshot.
func (t *routeTable) get() *compiled {
	gw := t.registry.Gateway()
	if c := t.current.Load(); c != nil && c.gateway == gw {
		return c
	}
	return t.refresh(gw)
}

// refresh compiles gw unless it (or a newer snapshot) is already compiled.
func (t *routeTable) refresh(gw *upstreams.Gateway) *compiled {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.current.Load(); c != nil && (c.gateway == gw || c.gateway.Version > gw.Version) {
		return c
	}
	c := compile(gw, t.logger)
	if t.onBuild != nil {
		t.onBuild(c)
	}
	t.current.Store(c)
	return c
}

// compile builds the router of a snapshot. Routes of disabled services
// are left out (Kong answers 404 for them), and so are stream routes.
// Routes that cannot be compiled are logged and left out.
func compile(gw *upstreams.Gateway, logger *zap.Logger) *compiled {
	c := &compiled{gateway: gw, services: map[string]*serviceEntry{}}
	in := make([]*routing.Route, 0, len(gw.Routes))
	for _, r := range gw.Routes {
		if !httpRoute(r) {
			continue
		}
		s := gw.Service(r)
		if s != nil && !s.Enabled {
			continue
		}
		if s != nil && c.services[s.ID] == nil {
			c.services[s.ID] = &serviceEntry{service: s, dial: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
		}
		in = append(in, routingRoute(r))
	}
	var errs []routing.RouteError
	c.router, errs = routing.Compile(in)
	for _, err := range errs {
		logger.Error("route left out of the router", zap.String("route", err.Route.ID), zap.String("name", err.Route.Name), zap.Error(err.Err))
	}
	logger.Debug("router compiled", zap.Uint64("version", gw.Version), zap.Int("routes", len(in)), zap.Int("entries", c.router.Len()))
	return c
}

// httpRoute reports whether r routes HTTP (http, https, grpc, grpcs).
func httpRoute(r *upstreams.Route) bool {
	for _, p := range r.Protocols {
		switch p {
		case "http", "https", "grpc", "grpcs":
			return true
		}
	}
	return false
}

// routingRoute is the router's view of a registry route.
func routingRoute(r *upstreams.Route) *routing.Route {
	return &routing.Route{
		ID:                      r.ID,
		Name:                    r.NameOrEmpty(),
		Service:                 r.ServiceID(),
		Protocols:               r.Protocols,
		Methods:                 r.Methods,
		Hosts:                   r.Hosts,
		Paths:                   r.Paths,
		Headers:                 r.Headers,
		SNIs:                    r.SNIs,
		RegexPriority:           r.RegexPriority,
		StripPath:               r.StripPath,
		PreserveHost:            r.PreserveHost,
		PathHandling:            r.PathHandling,
		HTTPSRedirectStatusCode: r.HTTPSRedirectStatusCode,
	}
}
