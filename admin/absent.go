package admin

import (
	"net/http"
)

// absentEntities are Kong entity kinds this gateway does not have, whose
// collections decK lists on every dump, diff and sync (plugins,
// consumers, certificates, SNIs must answer 200; the others would be
// tolerated as 404, but Kong 3.x answers them too). They answer an empty
// page in Kong's shape, with the usual size, offset and tags validation;
// writes to them are 405 "Method not allowed".
var absentEntities = []string{"plugins", "consumers", "certificates", "ca_certificates", "snis", "vaults", "keys", "key-sets"}

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
