package reverseproxy

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(Selector{})
}

// Selector is the selection policy that goes with the registry source: the
// registry's balancer has already chosen (so the pool holds the choice
// first), and the selector takes the first available upstream in pool
// order. Used with other sources it behaves like the "first" policy.
type Selector struct{}

// CaddyModule returns the Caddy module information.
func (Selector) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.selection_policies.registry",
		New: func() caddy.Module { return new(Selector) },
	}
}

// Select returns the first available upstream of the pool.
func (Selector) Select(pool caddyrp.UpstreamPool, r *http.Request, w http.ResponseWriter) *caddyrp.Upstream {
	for _, u := range pool {
		if u.Available() {
			return u
		}
	}
	return nil
}

// UnmarshalCaddyfile sets up the policy from Caddyfile tokens:
//
//	lb_policy registry
func (s *Selector) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // policy name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unrecognized registry policy option '%s'", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddyrp.Selector      = (*Selector)(nil)
	_ caddyfile.Unmarshaler = (*Selector)(nil)
)
