package admin

import (
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
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
// such as Kong's habitual :8001. With a token set, requests must carry it
// in the token header; it also composes with Caddy's own auth handlers
// (basic_auth, forward_auth, client certificates) placed before it.
type Handler struct {
	// Token required in TokenHeader; empty means no token check.
	// Placeholders such as {env.KONG_ADMIN_TOKEN} are expanded.
	Token string `json:"token,omitempty"`
	// TokenHeader is the header carrying the token. Default Kong-Admin-Token.
	TokenHeader string `json:"token_header,omitempty"`

	api *API
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kong_admin",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision expands placeholders in the token and builds the API. A token
// that is configured but expands to nothing (an unset {env.*}) is an
// error: it would otherwise silently leave the API open.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.Token != "" {
		configured := h.Token
		h.Token = caddy.NewReplacer().ReplaceAll(h.Token, "")
		if h.Token == "" {
			return fmt.Errorf("kong_admin: token %q is empty once expanded; refusing to serve the Admin API without one", configured)
		}
	}
	if h.TokenHeader == "" {
		h.TokenHeader = DefaultTokenHeader
	}
	h.api = NewAPI("")
	h.api.CloseStreamsOnShutdown(ctx)
	return nil
}

// ServeHTTP serves the Admin API; it never calls the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if h.Token != "" {
		got := r.Header.Get(h.TokenHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) != 1 {
			w.Header().Set("Server", "kong/"+KongVersion)
			writeError(w, r, schema.Plain(http.StatusUnauthorized, "Invalid credentials. Token or User credentials required"))
			return nil
		}
	}
	h.api.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	kong_admin [{
//		token <token>          # e.g. {env.KONG_ADMIN_TOKEN}
//		token_header <name>    # default Kong-Admin-Token
//	}]
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "token":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Token = d.Val()
		case "token_header":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.TokenHeader = d.Val()
		default:
			return d.Errf("unrecognized kong_admin option '%s'", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
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
