package admin

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(AdminRouter{})
}

// AdminPrefix is where the API is mounted on Caddy's admin endpoint:
// curl localhost:2019/kong/upstreams.
const AdminPrefix = "/kong"

// AdminRouter mounts the Admin API on Caddy's own admin endpoint, under
// /kong/, where Caddy's host and origin checks protect it. Writes are
// logged on AuditLoggerName, as on kong_admin.
type AdminRouter struct {
	audit *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminRouter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.upstreams",
		New: func() caddy.Module { return new(AdminRouter) },
	}
}

// Provision takes the audit logger of the config being loaded.
func (ar *AdminRouter) Provision(ctx caddy.Context) error {
	ar.audit = auditLogger(ctx)
	return nil
}

// Routes returns the admin routes.
func (ar *AdminRouter) Routes() []caddy.AdminRoute {
	api := NewAPI(AdminPrefix)
	audit := ar.audit
	if audit == nil {
		audit = zap.NewNop()
	}
	h := caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		serveAudited(audit, "", api, w, r)
		return nil
	})
	return []caddy.AdminRoute{
		{Pattern: AdminPrefix + "/", Handler: h},
		{Pattern: AdminPrefix, Handler: h},
	}
}

// Interface guards
var (
	_ caddy.AdminRouter = (*AdminRouter)(nil)
	_ caddy.Provisioner = (*AdminRouter)(nil)
)
