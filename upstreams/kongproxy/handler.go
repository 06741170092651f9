package kongproxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/routing"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("kong_proxy", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("kong_proxy", httpcaddyfile.Before, "respond")
}

// Handler routes requests by the registry's Kong routes and proxies them
// to the routes' services (module http.handlers.kong_proxy).
type Handler struct {
	// Fallthrough passes requests that match no route to the next
	// handler instead of answering Kong's 404.
	Fallthrough bool `json:"fallthrough,omitempty"`

	registry *upstreams.Registry
	table    *routeTable
	proxies  *proxies
	ports    *portTexts
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kong_proxy",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision finds the upstreams app's registry, compiles its routes and
// sets up the proxies to its services.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	app, err := ctx.App("upstreams")
	if err != nil {
		return fmt.Errorf("kong_proxy: loading the upstreams app: %w", err)
	}
	h.registry = app.(*upstreams.App).Registry()
	h.proxies = newProxies(ctx, h.logger)
	h.ports = new(portTexts)
	h.table = newRouteTable(h.registry, h.logger, h.proxies.sync)
	return nil
}

// Cleanup stops rebuilding and releases the service proxies.
func (h *Handler) Cleanup() error {
	if h.table != nil {
		h.table.close()
	}
	if h.proxies != nil {
		h.proxies.cleanupAll()
	}
	return nil
}

// ServeHTTP routes and proxies the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	c := h.table.get()
	port := localPort(r)
	req := routing.NewRequest(r, port)
	p := newProxiedRequest()
	if !c.router.Find(&req, &p.match) {
		if h.Fallthrough {
			return next.ServeHTTP(w, r)
		}
		h.publish(w, r, p)
		writeKongError(w, http.StatusNotFound, msgNoRoute, p.requestID)
		return nil
	}
	h.publish(w, r, p)
	m := &p.match
	if m.Route.HTTPSOnly() && forwardedProto(r) != "https" {
		redirectToHTTPS(w, r, m.Route.HTTPSRedirectStatusCode, p.requestID)
		return nil
	}
	e := c.services[m.Route.Service]
	if e == nil {
		writeKongError(w, http.StatusServiceUnavailable, msgNoService, p.requestID)
		return nil
	}
	svc := e.service
	p.service = svc
	if e.proxy == nil {
		h.logger.Error("no proxy for the service", zap.String("service", svc.ID), zap.Error(e.err))
		writeKongError(w, http.StatusInternalServerError, msgUnexpected, p.requestID)
		return nil
	}
	p.pool, p.dial = h.registry.Pool(svc.Host), e.dial
	p.plan(r, &req, h.ports.text(port))
	caddyhttp.SetVar(r.Context(), proxiedVar, p)
	sw := &startedWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w}}
	err := e.proxy.handler.ServeHTTP(sw, r, next)
	if err != nil && answerProxyError(sw, err, p.requestID) {
		h.logger.Error("proxying failed", zap.String("service", svc.ID), zap.String("route", m.Route.ID),
			zap.String("uri", r.RequestURI), zap.Error(err))
		return nil
	}
	return err
}

// publish gives the request's id to the client (X-Kong-Request-Id) and
// its placeholders to logs and later handlers; they are worked out only
// if read.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request, p *proxiedRequest) {
	w.Header()[requestIDHeader] = p.responseIDValue()
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Map(p.placeholder)
	}
}

// localPort is the port the request was received on.
func localPort(r *http.Request) int {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// trustedProxy reports whether the request came through a proxy Caddy's
// trusted_proxies trusts, so its X-Forwarded-* headers are believed.
func trustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}

// forwardedProto is the scheme the client used: X-Forwarded-Proto from a
// trusted proxy, else the connection's.
func forwardedProto(r *http.Request) string {
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" && trustedProxy(r) {
		return strings.ToLower(p)
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// parseCaddyfile sets up the handler from Caddyfile tokens:
//
//	kong_proxy [{
//		fallthrough
//	}]
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "fallthrough":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.Fallthrough = true
		default:
			return d.Errf("unrecognized kong_proxy option '%s'", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
