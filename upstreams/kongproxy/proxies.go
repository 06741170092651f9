package kongproxy

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/caddyserver/caddy/v2"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// serviceProxy is Caddy's reverse_proxy handler set up for one version of
// a service: to the registry upstream its host names, or to host:port.
type serviceProxy struct {
	service     *upstreams.Service // the version it was built for (snapshots never change it)
	viaUpstream bool

	once      sync.Once
	handler   *caddyrp.Handler
	transport *hostTransport
	release   func() // gives back the shared transport; nil once done
	err       error
}

// proxies caches one provisioned reverse_proxy handler per service that
// a route leads to. A
// handler is built for the exact *Service of a snapshot (a change to the
// service is a new object, hence a new handler) and for whether its host
// names a registry upstream (an upstream created or deleted later switches
// it). Handlers are built when a snapshot is compiled, off the request
// path; a request only builds one (once, others wait) for an upstream that
// appeared since. Replaced handlers are cleaned up.
type proxies struct {
	ctx        caddy.Context
	registry   *upstreams.Registry
	logger     *zap.Logger
	transports *transports // shared by the services of equal transport settings

	// byService holds the *serviceProxy of each service, by service id. A
	// request reads it without a lock; mu serialises the changes to it.
	byService sync.Map
	mu        sync.Mutex
}

func newProxies(ctx caddy.Context, reg *upstreams.Registry, logger *zap.Logger) *proxies {
	return &proxies{ctx: ctx, registry: reg, logger: logger, transports: newTransports(ctx)}
}

// viaUpstream reports whether requests to s go through a registry upstream.
func (p *proxies) viaUpstream(s *upstreams.Service) bool {
	return p.registry.Pool(s.Host) != nil
}

// errReplaced is the error of a handler replaced before it was built.
var errReplaced = errors.New("service proxy was replaced before it was built")

// get returns the provisioned handler for s. A request still holding an
// older snapshot than the cached handler's gets the newer handler (the
// service changed while it was being routed), so that stale requests do
// not replace the current handler back and forth.
func (p *proxies) get(s *upstreams.Service) (*serviceProxy, error) {
	for {
		sp := p.entry(s)
		sp.once.Do(func() { sp.err = sp.provision(p.ctx, p.registry, p.transports) })
		if sp.err != errReplaced {
			return sp, sp.err
		}
		// replaced by a newer version between entry and provisioning: again
	}
}

// entry returns the cache entry for s, replacing an outdated one. The
// usual case, an entry built for this very service, takes no lock.
func (p *proxies) entry(s *upstreams.Service) *serviceProxy {
	via := p.viaUpstream(s)
	if sp := p.load(s.ID); sp.serves(s, via) {
		return sp
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sp := p.load(s.ID)
	if !sp.serves(s, via) && !sp.serves(p.registry.Gateway().Services[s.ID], via) {
		if sp != nil {
			sp.cleanup(p.logger)
		}
		sp = &serviceProxy{service: s, viaUpstream: via}
		p.byService.Store(s.ID, sp)
	}
	return sp
}

// load returns the cache entry of a service id, or nil.
func (p *proxies) load(id string) *serviceProxy {
	v, _ := p.byService.Load(id)
	sp, _ := v.(*serviceProxy)
	return sp
}

// sync builds the handlers of the services a new router leads to and
// cleans up the others'.
func (p *proxies) sync(c *compiled) {
	p.mu.Lock()
	p.byService.Range(func(id, sp any) bool {
		if c.services[id.(string)] == nil {
			sp.(*serviceProxy).cleanup(p.logger)
			p.byService.Delete(id)
		}
		return true
	})
	p.mu.Unlock()
	for _, s := range c.services {
		if _, err := p.get(s); err != nil {
			p.logger.Error("setting up the proxy to a service", zap.String("service", s.ID), zap.Error(err))
		}
	}
}

// cleanupAll cleans up every handler.
func (p *proxies) cleanupAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byService.Range(func(id, sp any) bool {
		sp.(*serviceProxy).cleanup(p.logger)
		p.byService.Delete(id)
		return true
	})
}

// serves reports whether sp was built for this version of the service and
// this choice of upstream; sp may be nil.
func (sp *serviceProxy) serves(s *upstreams.Service, viaUpstream bool) bool {
	return sp != nil && s != nil && sp.service == s && sp.viaUpstream == viaUpstream
}

// provision builds and provisions the reverse_proxy handler of the service:
// retries → lb_retries (a retry goes to a target not tried yet), and the
// transport of the service's settings (settingsOf), shared with the other
// services of equal settings. The transport is the registry's, so passive
// health checks see every round trip to an upstream's targets.
func (sp *serviceProxy) provision(ctx caddy.Context, reg *upstreams.Registry, tr *transports) (err error) {
	s := sp.service
	settings := settingsOf(s)
	t, err := tr.acquire(settings)
	if err != nil {
		return fmt.Errorf("service %s: %w", s.ID, err)
	}
	sp.transport = &hostTransport{Transport: t, defaultPort: defaultPort(s.Protocol)}
	defer func() {
		if err != nil {
			tr.release(settings)
		} else {
			sp.release = func() { tr.release(settings) }
		}
	}()
	h := &caddyrp.Handler{
		Transport:     sp.transport,
		LoadBalancing: &caddyrp.LoadBalancing{Retries: s.Retries},
	}
	if sp.viaUpstream {
		src := &reverseproxy.Source{Upstream: s.Host}
		if err := src.Provision(ctx); err != nil {
			return fmt.Errorf("service %s: %w", s.ID, err)
		}
		h.DynamicUpstreams = src
		h.LoadBalancing.SelectionPolicy = reverseproxy.Selector{}
	} else {
		h.Upstreams = caddyrp.UpstreamPool{{Dial: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}}
	}
	if err := h.Provision(ctx); err != nil {
		return fmt.Errorf("service %s: reverse_proxy: %w", s.ID, err)
	}
	sp.handler = h
	return nil
}

// cleanup releases the handler's connections and hosts, and its share of
// the transport.
func (sp *serviceProxy) cleanup(logger *zap.Logger) {
	sp.once.Do(func() { sp.err = errReplaced })
	if sp.handler != nil {
		if err := sp.handler.Cleanup(); err != nil {
			logger.Warn("cleaning up a service proxy", zap.String("service", sp.service.ID), zap.Error(err))
		}
	}
	if sp.release != nil {
		sp.release()
		sp.release = nil
	}
}

// defaultPort is the port left out of a Host header for a protocol.
func defaultPort(protocol string) string {
	switch protocol {
	case "https", "grpcs":
		return "443"
	}
	return "80"
}
