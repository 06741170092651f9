package admin

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(AdminRouter{})
}

// AdminPrefix is where the API is mounted on Caddy's admin endpoint:
// curl localhost:2019/kong/upstreams.
const AdminPrefix = "/kong"

// AdminRouter mounts the Admin API on Caddy's own admin endpoint, under
// /kong/, where Caddy's host and origin checks protect it.
type AdminRouter struct{}

// CaddyModule returns the Caddy module information.
func (AdminRouter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.upstreams",
		New: func() caddy.Module { return new(AdminRouter) },
	}
}

// Routes returns the admin routes.
func (AdminRouter) Routes() []caddy.AdminRoute {
	api := NewAPI(AdminPrefix)
	h := caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		api.ServeHTTP(w, r)
		return nil
	})
	return []caddy.AdminRoute{
		{Pattern: AdminPrefix + "/", Handler: h},
		{Pattern: AdminPrefix, Handler: h},
	}
}

// Interface guard
var _ caddy.AdminRouter = (*AdminRouter)(nil)
