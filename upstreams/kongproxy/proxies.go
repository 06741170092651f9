package kongproxy

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// proxyKey is everything a service's reverse_proxy handler is built from:
// its transport's settings and its retries. Services with equal keys share
// one handler; which upstream or host:port a request goes to is the
// request's (serviceUpstreams), not the handler's. So a service costs no
// handler of its own, and a request to any of thousands of services runs
// through the same few warm handlers, as every Kong service runs through
// the same proxy code with only a balancer per upstream.
type proxyKey struct {
	transport transportSettings
	retries   int
}

// keyOf is the key of a service's handler.
func keyOf(s *upstreams.Service) proxyKey {
	return proxyKey{transport: settingsOf(s), retries: s.Retries}
}

// sharedProxy is a provisioned reverse_proxy handler for one proxyKey.
type sharedProxy struct {
	handler *caddyrp.Handler
	key     proxyKey
}

// proxies holds the handlers of a kong_proxy handler, one per proxyKey in
// use. They are built when a snapshot is compiled (sync), off the request
// path, and a handler whose key no route's service has any more is cleaned
// up then. Requests read their handler from the compiled snapshot, never
// from here.
type proxies struct {
	ctx        caddy.Context
	logger     *zap.Logger
	transports *transports // shared by the handlers of equal transport settings

	mu     sync.Mutex // serialises sync and cleanupAll
	byKey  map[proxyKey]*sharedProxy
	closed bool // cleanupAll ran: a late sync builds nothing
}

func newProxies(ctx caddy.Context, logger *zap.Logger) *proxies {
	return &proxies{ctx: ctx, logger: logger, transports: newTransports(ctx), byKey: map[proxyKey]*sharedProxy{}}
}

// sync gives each service of a new snapshot its handler, building the
// handlers of new keys, and cleans up the handlers no service uses any
// more. A service whose handler cannot be built keeps the error, which
// its requests answer with a 500.
func (p *proxies) sync(c *compiled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, e := range c.services {
			e.err = errClosed
		}
		return
	}
	used := make(map[proxyKey]bool, len(p.byKey))
	for _, e := range c.services {
		key := keyOf(e.service)
		used[key] = true
		sp := p.byKey[key]
		if sp == nil {
			var err error
			if sp, err = p.build(key); err != nil {
				e.err = fmt.Errorf("service %s: %w", e.service.ID, err)
				p.logger.Error("setting up the proxy to a service", zap.String("service", e.service.ID), zap.Error(err))
				continue
			}
			p.byKey[key] = sp
		}
		e.proxy = sp
	}
	for key, sp := range p.byKey {
		if !used[key] {
			p.cleanup(sp)
			delete(p.byKey, key)
		}
	}
}

// errClosed is the error of a service compiled after its kong_proxy
// handler was cleaned up (a request still in flight during a reload).
var errClosed = errors.New("kong_proxy handler was cleaned up")

// cleanupAll cleans up every handler; later syncs build none.
func (p *proxies) cleanupAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for key, sp := range p.byKey {
		p.cleanup(sp)
		delete(p.byKey, key)
	}
}

// build provisions the reverse_proxy handler of a key: retries →
// lb_retries (a retry goes to a target not tried yet), the transport of
// the settings, shared with the other handlers of equal settings, and
// the request's service as its dynamic upstreams. The transport is the
// registry's, so passive health checks see every round trip to an
// upstream's targets.
func (p *proxies) build(key proxyKey) (_ *sharedProxy, err error) {
	t, err := p.transports.acquire(key.transport)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.transports.release(key.transport)
		}
	}()
	h := &caddyrp.Handler{
		Transport:        &hostTransport{Transport: t, defaultPort: key.transport.defaultPort()},
		LoadBalancing:    &caddyrp.LoadBalancing{Retries: key.retries, SelectionPolicy: reverseproxy.Selector{}},
		DynamicUpstreams: serviceUpstreams{},
	}
	if err := h.Provision(p.ctx); err != nil {
		return nil, fmt.Errorf("reverse_proxy: %w", err)
	}
	return &sharedProxy{handler: h, key: key}, nil
}

// cleanup releases a handler's connections and its share of the
// transport.
func (p *proxies) cleanup(sp *sharedProxy) {
	if err := sp.handler.Cleanup(); err != nil {
		p.logger.Warn("cleaning up a service proxy", zap.Error(err))
	}
	p.transports.release(sp.key.transport)
}

// errNoService is the error of a request that reached a service proxy
// without kong_proxy's state (another handler calling it).
var errNoService = errors.New("kong_proxy: the request has no service")

// serviceUpstreams is the dynamic upstream source of the shared handlers:
// the request's service decides, through the pool kong_proxy looked up
// for it. A service whose host names a registry upstream gets the
// address the upstream's balancer picks for this attempt; any other
// service gets its host:port.
type serviceUpstreams struct{}

// GetUpstreams returns the request's service's address for this attempt.
func (serviceUpstreams) GetUpstreams(r *http.Request) ([]*caddyrp.Upstream, error) {
	p, ok := caddyhttp.GetVar(r.Context(), proxiedVar).(*proxiedRequest)
	if !ok {
		return nil, errNoService
	}
	if p.pool != nil {
		return reverseproxy.PickFrom(r, p.pool)
	}
	return []*caddyrp.Upstream{{Dial: p.dial}}, nil
}
