package reverseproxy

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
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

// Select returns the first available upstream of the pool and sets the
// cookie the registry's algorithm asked for (hash_on=cookie without the
// cookie, or a new sticky session), replacing one set by an earlier
// attempt of the same request.
func (Selector) Select(pool caddyrp.UpstreamPool, r *http.Request, w http.ResponseWriter) *caddyrp.Upstream {
	for _, u := range pool {
		if u.Available() {
			if w != nil {
				if c, ok := pendingCookie(r); ok {
					setCookie(w.Header(), c)
				}
			}
			return u
		}
	}
	return nil
}

// setCookie adds c's Set-Cookie header, dropping earlier ones of the same name.
func setCookie(h http.Header, c balance.PendingCookie) {
	prefix := c.Name + "="
	kept := h.Values("Set-Cookie")[:0:0]
	for _, v := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(v, prefix) {
			kept = append(kept, v)
		}
	}
	h["Set-Cookie"] = append(kept, c.Header())
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
