package admin

import (
	"net/http"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// KongVersion is the Kong version the API reports in GET / and in the
// Server header of every answer: 3.11, the first Kong whose upstream
// schema has sticky_sessions_cookie, sticky_sessions_cookie_path and the
// sticky-sessions algorithm, which this gateway serves; its services,
// routes and targets have the same fields as Kong 3.9's and 3.10's
// (kong/db/schema/entities/*.lua are unchanged from 3.9.3 to 3.10.0).
// Clients gate defaults on it (go-kong fills sticky_sessions_cookie_path
// from 3.11); decK parses it as a semantic version and needs >= 3.0.
const KongVersion = "3.11.0"

// API is the Kong-compatible Admin API. It serves the registry of the
// running config, looked up on every request, so it keeps working across
// config reloads.
type API struct {
	// Prefix is the path the API is mounted under: "/kong" on Caddy's admin
	// endpoint, "" on a dedicated listener. It is stripped from request
	// paths and prepended to "next" links.
	Prefix string

	router  *router
	streams streams
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	params []string
	reg    *upstreams.Registry
	api    *API
}

// NewAPI returns the Admin API mounted under prefix.
func NewAPI(prefix string) *API {
	a := &API{Prefix: strings.TrimSuffix(prefix, "/"), router: &router{}}
	a.routes()
	return a
}

// ServeHTTP serves an Admin API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = withAdminLatency(w)
	w.Header().Set("Server", "kong/"+KongVersion)
	reg := upstreams.ActiveRegistry()
	if reg == nil {
		writeError(w, r, schema.Plain(http.StatusServiceUnavailable, "the upstreams app is not running"))
		return
	}
	// match on the escaped path and unescape each parameter once, so an
	// escaped "/" or "%" in a key stays part of that key
	path := strings.TrimPrefix(r.URL.EscapedPath(), a.Prefix)
	a.router.serve(w, r, path, func(params []string) *call {
		return &call{w: w, r: r, params: params, reg: reg, api: a}
	})
}

// routes registers Kong's endpoints.
func (a *API) routes() {
	rt := a.router
	rt.handle("/", map[string]handlerFunc{http.MethodGet: getRoot})
	rt.handle("/status", map[string]handlerFunc{http.MethodGet: getStatus})
	rt.handle("/schemas/{}", map[string]handlerFunc{http.MethodGet: getSchema})
	rt.handle("/schemas/{}/validate", map[string]handlerFunc{http.MethodPost: validateSchema})
	rt.handle("/upstreams", map[string]handlerFunc{http.MethodGet: listUpstreams, http.MethodPost: createUpstream})
	rt.handle("/upstreams/{}", map[string]handlerFunc{
		http.MethodGet: getUpstream, http.MethodPut: putUpstream, http.MethodPatch: patchUpstream, http.MethodDelete: deleteUpstream,
	})
	rt.handle("/upstreams/{}/targets", map[string]handlerFunc{http.MethodGet: listTargets, http.MethodPost: createTarget})
	rt.handle("/upstreams/{}/targets/all", map[string]handlerFunc{http.MethodGet: listAllTargets})
	rt.handle("/upstreams/{}/targets/{}", map[string]handlerFunc{
		http.MethodGet: getTarget, http.MethodPut: updateTarget, http.MethodPatch: updateTarget, http.MethodDelete: deleteTarget,
	})
	rt.handle("/upstreams/{}/health", map[string]handlerFunc{http.MethodGet: getUpstreamHealth})
	rt.handle("/upstreams/{}/stats", map[string]handlerFunc{http.MethodGet: getUpstreamStats})
	for _, state := range []string{"healthy", "unhealthy"} {
		h := setTargetHealth(state == "healthy")
		// Kong 3.x uses PUT; Kong 2.x and go-kong use POST: accept both.
		rt.handle("/upstreams/{}/targets/{}/"+state, map[string]handlerFunc{http.MethodPut: h, http.MethodPost: h})
		rt.handle("/upstreams/{}/targets/{}/{}/"+state, map[string]handlerFunc{http.MethodPut: h, http.MethodPost: h})
	}
	a.serviceRoutes()
	rt.handle("/config", map[string]handlerFunc{http.MethodGet: getConfig, http.MethodPost: postConfig})
	rt.handle("/tags", map[string]handlerFunc{http.MethodGet: listTags})
	rt.handle("/tags/{}", map[string]handlerFunc{http.MethodGet: listTagged})
	a.absentRoutes()
}

// serviceRoutes registers Kong's endpoints for services and routes.
func (a *API) serviceRoutes() {
	rt := a.router
	rt.handle("/services", map[string]handlerFunc{http.MethodGet: listServices, http.MethodPost: createService})
	rt.handle("/services/{}", map[string]handlerFunc{
		http.MethodGet: getService, http.MethodPut: putService, http.MethodPatch: patchService, http.MethodDelete: deleteService,
	})
	rt.handle("/services/{}/routes", map[string]handlerFunc{http.MethodGet: listServiceRoutes, http.MethodPost: createServiceRoute})
	rt.handle("/services/{}/routes/{}", map[string]handlerFunc{
		http.MethodGet: getServiceRoute, http.MethodPut: putServiceRoute, http.MethodPatch: patchServiceRoute, http.MethodDelete: deleteServiceRoute,
	})
	rt.handle("/routes", map[string]handlerFunc{http.MethodGet: listRoutes, http.MethodPost: createRoute})
	rt.handle("/routes/{}", map[string]handlerFunc{
		http.MethodGet: getRoute, http.MethodPut: putRoute, http.MethodPatch: patchRoute, http.MethodDelete: deleteRoute,
	})
	rt.handle("/routes/{}/service", map[string]handlerFunc{
		http.MethodGet: getRouteService, http.MethodPut: putRouteService, http.MethodPatch: patchRouteService, http.MethodDelete: deleteRouteService,
	})
}
