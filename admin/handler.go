package admin

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("kong_admin", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("kong_admin", httpcaddyfile.Before, "respond")
}

// DefaultTokenHeader is the header a token is read from unless configured
// otherwise (Kong Enterprise's RBAC header).
const DefaultTokenHeader = "Kong-Admin-Token"

// Handler serves the Admin API from an HTTP site, for a dedicated listener
// such as Kong's habitual :8001, behind the Guard it embeds: Host and
// Origin checks, an optional token, and an audit log of every write. It
// also composes with Caddy's own auth handlers (basic_auth, forward_auth,
// client certificates) placed before it.
type Handler struct {
	Guard

	api *API
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kong_admin",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the guard (see Guard.Provision: a listener that is not
// loopback-only needs a token or `public`) and builds the API.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.Guard.Provision(ctx, "kong_admin"); err != nil {
		return err
	}
	h.api = NewAPI("")
	h.api.CloseStreamsOnShutdown(ctx)
	return nil
}

// ServeHTTP serves the Admin API; it never calls the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.Guard.Serve(w, r, h.api)
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	kong_admin [{
//		token <token>                          # e.g. {env.KONG_ADMIN_TOKEN}
//		token <name> <token>                   # named tokens, for rotation
//		token_header <name>                    # default Kong-Admin-Token
//		token_failure_limit <burst> [<window>] # default 10 1m
//		allowed_origins <origin...>
//		allowed_hosts <host[:port]...>
//		public
//	}]
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.Guard.UnmarshalCaddyfileDirective(d, "kong_admin")
}

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
