package manager

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/admin"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("kong_manager", parseHandler)
	httpcaddyfile.RegisterDirectiveOrder("kong_manager", httpcaddyfile.Before, "respond")
}

// APIPrefix is where the handler serves the Admin API for the page.
const APIPrefix = "/api"

//go:embed web
var web embed.FS

// contentSecurityPolicy lets the page load and fetch from its own origin
// only: no font, script, style or API call can go anywhere else.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the manager page and, under /api/, the Admin API it
// calls, so the page needs no cross-origin access. It never calls the next
// handler. The Admin API mount is behind the same Guard as kong_admin
// (Host and Origin checks, tokens, audit log; a listener that is not
// loopback-only needs a token or `public`): whoever opens the page can
// change the registry.
type Handler struct {
	admin.Guard

	api    *admin.API
	static http.Handler
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kong_manager",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the guard, the Admin API mount and the file server of
// the page.
func (h *Handler) Provision(ctx caddy.Context) error {
	if err := h.Guard.Provision(ctx, "kong_manager"); err != nil {
		return err
	}
	h.api = admin.NewAPI(APIPrefix)
	h.api.CloseStreamsOnShutdown(ctx)
	files, err := fs.Sub(web, "web")
	if err != nil {
		return err
	}
	h.static = http.FileServer(http.FS(files))
	return nil
}

// ServeHTTP serves /api/... from the Admin API and anything else from the
// embedded page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.URL.Path == APIPrefix || strings.HasPrefix(r.URL.Path, APIPrefix+"/") {
		h.Guard.Serve(w, r, h.api)
		return nil
	}
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-cache")
	h.static.ServeHTTP(w, r)
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens; it takes
// no arguments, and the block takes kong_admin's guard options (see
// admin.Guard.UnmarshalCaddyfileOption):
//
//	kong_manager {
//		token <token>
//		allowed_origins <origin...>
//		public
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.Guard.UnmarshalCaddyfileDirective(d, "kong_manager")
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
