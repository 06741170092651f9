package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// entitySchemas are the entities whose schemas the API serves.
var entitySchemas = map[string]*schema.Schema{
	upstreams.UpstreamSchema.Name: upstreams.UpstreamSchema,
	upstreams.TargetSchema.Name:   upstreams.TargetSchema,
	upstreams.ServiceSchema.Name:  upstreams.ServiceSchema,
	upstreams.RouteSchema.Name:    upstreams.RouteSchema,
}

func lookupSchema(name string) (*schema.Schema, error) {
	s, ok := entitySchemas[name]
	if !ok {
		msg := "No entity named '" + name + "'"
		if slices.Contains(absentEntities, name) {
			msg += ": " + upstreams.UnsupportedMessage(strings.ReplaceAll(name, "-", "_"))
		}
		return nil, schema.Plain(http.StatusNotFound, msg)
	}
	return s, nil
}

// getSchema serves GET /schemas/{entity}: fields with their types and
// defaults, which decK reads to fill in what a file leaves out.
func getSchema(c *call) error {
	s, err := lookupSchema(c.params[0])
	if err != nil {
		return err
	}
	writeJSON(c.w, c.r, http.StatusOK, s.Describe())
	return nil
}

// validateSchema serves POST /schemas/{entity}/validate: schema validation
// only, no uniqueness or foreign-key checks, nothing written.
func validateSchema(c *call) error {
	s, err := lookupSchema(c.params[0])
	if err != nil {
		return err
	}
	in, err := decodeBody(c.r, s)
	if err != nil {
		return err
	}
	if s == upstreams.TargetSchema && in["upstream"] == nil {
		// the URL gives a target its upstream elsewhere; validate the rest
		in["upstream"] = map[string]any{"id": "00000000-0000-0000-0000-000000000000"}
	}
	if _, v := s.Process(in, schema.Insert); v != nil {
		return schema.SchemaViolation(v)
	}
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{"message": "schema validation successful"})
	return nil
}
