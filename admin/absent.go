package admin

import (
	"net/http"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// absentEntities are Kong entity kinds this gateway does not have, whose
// collections decK lists on every dump, diff and sync (plugins,
// consumers, certificates, SNIs must answer 200; the others would be
// tolerated as 404, but Kong 3.x answers them too). They answer an empty
// page in Kong's shape, with the usual size, offset and tags validation.
// Writes to them answer 405, code 12, with a message naming what does
// the job in Caddy, and write nothing.
var absentEntities = []string{"plugins", "consumers", "certificates", "ca_certificates", "snis", "vaults", "keys", "key-sets"}

// absentRoutes registers the absent kinds' collections, entities and
// schemas.
func (a *API) absentRoutes() {
	rt := a.router
	for _, entity := range absentEntities {
		refuse := refuseAbsent(entity)
		rt.handle("/"+entity, map[string]handlerFunc{http.MethodGet: listAbsent, http.MethodPost: refuse})
		rt.handle("/"+entity+"/{}", map[string]handlerFunc{
			http.MethodGet: notFound, http.MethodPut: refuse, http.MethodPatch: refuse, http.MethodDelete: refuse,
		})
	}
	for _, parent := range []string{"services", "routes"} {
		rt.handle("/"+parent+"/{}/plugins", map[string]handlerFunc{http.MethodGet: listAbsent, http.MethodPost: refuseAbsent("plugins")})
	}
	rt.handle("/schemas/plugins/{}", map[string]handlerFunc{http.MethodGet: getPluginSchema})
	rt.handle("/schemas/plugins/validate", map[string]handlerFunc{http.MethodPost: refuseAbsent("plugins")})
}

// listAbsent serves GET /{entity} for an entity kind in absentEntities.
func listAbsent(c *call) error {
	page, err := parsePage(c.r, true)
	if err != nil {
		return err
	}
	if _, err := page.afterKey(); err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{"data": []any{}, "next": nil})
	return nil
}

// notFound is Kong's bare 404: no entity of an absent kind exists.
func notFound(*call) error { return schema.NotFoundPlain() }

// refuseAbsent answers a write to an absent kind: 405, code 12
// ("operation unsupported"), naming what is missing and which Caddy
// directive does the job.
func refuseAbsent(entity string) handlerFunc {
	kind := strings.ReplaceAll(entity, "-", "_")
	return func(*call) error {
		return schema.OperationUnsupported(upstreams.UnsupportedMessage(kind))
	}
}

// getPluginSchema serves GET /schemas/plugins/{name}, which decK reads for
// every plugin of a file before it writes anything: Kong's 404 for a
// plugin it does not have, with the Caddy directive that does its job,
// so a sync of a file with plugins stops before any change.
func getPluginSchema(c *call) error {
	name := c.params[0]
	return schema.Plain(http.StatusNotFound, "No plugin named '"+name+"': "+upstreams.UnsupportedPluginMessage(name))
}
