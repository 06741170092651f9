package reverseproxy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func init() {
	caddy.RegisterModule(Source{})
}

// Source is a reverse_proxy dynamic upstream source backed by a registry
// upstream. Each call returns the one address the upstream's balancer
// picked for this attempt of the request.
//
// When the upstream does not exist or has no available target (none, all
// weight 0, or all unhealthy), GetUpstreams returns an error: reverse_proxy
// logs it and, having no static upstreams, answers 503.
type Source struct {
	// Upstream is the name of the registry upstream. It may contain
	// placeholders, e.g. {http.request.header.X-Upstream}.
	Upstream string `json:"upstream"`

	registry     *upstreams.Registry
	placeholders bool
}

// CaddyModule returns the Caddy module information.
func (Source) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.registry",
		New: func() caddy.Module { return new(Source) },
	}
}

// Provision finds the registry of the upstreams app.
func (s *Source) Provision(ctx caddy.Context) error {
	if s.Upstream == "" {
		return fmt.Errorf("registry source: an upstream name is required")
	}
	app, err := ctx.App("upstreams")
	if err != nil {
		return fmt.Errorf("registry source: loading the upstreams app: %w", err)
	}
	s.registry = app.(*upstreams.App).Registry()
	s.placeholders = strings.Contains(s.Upstream, "{")
	return nil
}

// hostPlaceholder is the placeholder holding, for the attempt's address,
// the Host name Kong would send (see upstreams.Pool.HostName), for
// `header_up Host {upstreams.host}` or `tls_server_name {upstreams.host}`.
const hostPlaceholder = "upstreams.host"

// GetUpstreams returns the address chosen for this attempt.
func (s *Source) GetUpstreams(r *http.Request) ([]*caddyrp.Upstream, error) {
	name := s.Upstream
	if s.placeholders {
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			name = repl.ReplaceAll(name, "")
		}
	}
	pool := s.registry.Pool(name)
	if pool == nil {
		return nil, fmt.Errorf("upstream %q is not in the registry", name)
	}
	return PickFrom(r, pool)
}

// PickFrom returns the address of pool chosen for this attempt of r, as
// the registry source does for its upstream: for Go callers (kong_proxy)
// that look the pool up themselves. reverse_proxy's handler must use the
// registry's transport and selection policy, as with the source.
func PickFrom(r *http.Request, pool *upstreams.Pool) ([]*caddyrp.Upstream, error) {
	name := pool.Upstream.Name
	if !pool.Healthy() {
		available, total := pool.AvailableWeight()
		return nil, fmt.Errorf("upstream %q is unhealthy: available weight %d of %d is not above the %v%% threshold",
			name, available, total, pool.Upstream.Healthchecks.Threshold)
	}
	a := attemptFor(r, name)
	addr := pool.Pick(&a.pick)
	if addr == nil {
		available, total := pool.AvailableWeight()
		return nil, fmt.Errorf("upstream %q has no available target (%d targets, available weight %d of %d)",
			name, len(pool.Addresses), available, total)
	}
	a.pick.Tried(addr.Dial)
	a.picked(pool, addr)
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(hostPlaceholder, pool.HostName(addr))
	}
	if pool.TracksRequests() {
		a.begin(r.Context(), pool, addr)
	}
	return []*caddyrp.Upstream{{Dial: addr.Dial}}, nil
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens:
//
//	dynamic registry <upstream>
//
// or
//
//	dynamic registry {
//		upstream <upstream>
//	}
func (s *Source) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // source name
	if d.NextArg() {
		s.Upstream = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "upstream":
			if !d.NextArg() {
				return d.ArgErr()
			}
			if s.Upstream != "" {
				return d.Err("upstream already specified")
			}
			s.Upstream = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		default:
			return d.Errf("unrecognized registry source option '%s'", d.Val())
		}
	}
	if s.Upstream == "" {
		return d.Err("the name of a registry upstream is required")
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner      = (*Source)(nil)
	_ caddyrp.UpstreamSource = (*Source)(nil)
	_ caddyfile.Unmarshaler  = (*Source)(nil)
)
