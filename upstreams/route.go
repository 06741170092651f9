package upstreams

import (
	"slices"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Route matches requests and sends them to its service: Kong's Route
// entity (traditional router flavor), field for field.
type Route struct {
	ID                      string              `json:"id"`
	CreatedAt               int64               `json:"created_at"`
	UpdatedAt               int64               `json:"updated_at"`
	Name                    *string             `json:"name"`
	Protocols               []string            `json:"protocols"`
	Methods                 []string            `json:"methods"`
	Hosts                   []string            `json:"hosts"`
	Paths                   []string            `json:"paths"`
	Headers                 map[string][]string `json:"headers"`
	HTTPSRedirectStatusCode int                 `json:"https_redirect_status_code"`
	RegexPriority           int                 `json:"regex_priority"`
	StripPath               bool                `json:"strip_path"`
	PathHandling            string              `json:"path_handling"`
	PreserveHost            bool                `json:"preserve_host"`
	RequestBuffering        bool                `json:"request_buffering"`
	ResponseBuffering       bool                `json:"response_buffering"`
	SNIs                    []string            `json:"snis"`
	Sources                 []RouteEndpoint     `json:"sources"`
	Destinations            []RouteEndpoint     `json:"destinations"`
	Tags                    []string            `json:"tags"`
	Service                 *ForeignKey         `json:"service"`
}

// RouteEndpoint is an element of a stream route's sources or destinations:
// an IP address or CIDR range, a port, or both.
type RouteEndpoint struct {
	IP   *string `json:"ip"`
	Port *int    `json:"port"`
}

// NameOrEmpty returns the route's name, or "" when it has none.
func (r *Route) NameOrEmpty() string { return deref(r.Name) }

// ServiceID returns the id of the route's service, or "" when it has none.
func (r *Route) ServiceID() string {
	if r.Service == nil {
		return ""
	}
	return r.Service.ID
}

// Path handling algorithms of a route (Kong's path_handling).
const (
	PathHandlingV0 = "v0"
	PathHandlingV1 = "v1"
)

// routeFamilies are Kong's mutually exclusive protocol subsets, each
// selecting a route subschema.
var routeFamilies = [][]string{{"http", "https"}, {"tcp", "tls", "udp"}, {"tls_passthrough"}, {"grpc", "grpcs"}}

func endpointsField(name string) schema.Field {
	return schema.Field{Name: name, Type: schema.Set, Elements: &schema.Field{
		Type: schema.Record,
		Fields: []schema.Field{
			{Name: "ip", Type: schema.String, Check: schema.CheckIPOrCIDR},
			{Name: "port", Type: schema.Integer, Between: schema.Between(0, 65535)},
		},
		Check: func(v any) string {
			m := v.(map[string]any)
			if m["ip"] == nil && m["port"] == nil {
				return "at least one of these fields must be non-empty: 'ip', 'port'"
			}
			return ""
		},
	}}
}

// RouteSchema declares the route entity (Kong 3.x routes.lua with the
// routes_subschemas.lua checks, traditional flavors).
var RouteSchema = &schema.Schema{
	Name:        "routes",
	EndpointKey: "name",
	Fields: namedEntityFields([]schema.Field{
		{Name: "protocols", Type: schema.Set, Required: true, LenMin: 1, Default: []string{"http", "https"},
			Elements: &schema.Field{Type: schema.String, OneOf: schema.Strings(schema.Protocols...)}, Check: checkProtocolFamilies},
		{Name: "methods", Type: schema.Set, Elements: &schema.Field{Type: schema.String, Check: schema.CheckHTTPMethod}},
		{Name: "hosts", Type: schema.Array, Elements: &schema.Field{Type: schema.String, Check: schema.CheckWildcardHost}},
		{Name: "paths", Type: schema.Array, Elements: &schema.Field{Type: schema.String, Check: schema.CheckRouterPath}},
		{Name: "headers", Type: schema.Map,
			Keys:   &schema.Field{Type: schema.String, Check: checkRouteHeaderName},
			Values: &schema.Field{Type: schema.Array, Elements: &schema.Field{Type: schema.String}}},
		{Name: "https_redirect_status_code", Type: schema.Integer, Required: true, Default: 426.0, OneOf: schema.Ints(426, 301, 302, 307, 308)},
		{Name: "regex_priority", Type: schema.Integer, Default: 0.0},
		{Name: "strip_path", Type: schema.Boolean, Required: true, Default: true},
		{Name: "path_handling", Type: schema.String, Default: PathHandlingV0, OneOf: schema.Strings(PathHandlingV0, PathHandlingV1)},
		{Name: "preserve_host", Type: schema.Boolean, Required: true, Default: false},
		{Name: "request_buffering", Type: schema.Boolean, Required: true, Default: true},
		{Name: "response_buffering", Type: schema.Boolean, Required: true, Default: true},
		{Name: "snis", Type: schema.Set, Elements: &schema.Field{Type: schema.String, Check: schema.CheckSNI}},
		endpointsField("sources"),
		endpointsField("destinations"),
		schema.TagsField(),
		{Name: "service", Type: schema.Foreign, Reference: "services", Referenced: ServiceSchema},
	}),
	Shorthands: routeSubschemaDefaults,
	EntityChecks: []schema.EntityCheck{
		{Fields: []string{"protocols", "snis"}, Run: checkRouteSNIs},
		{Fields: []string{"protocols", "methods", "hosts", "paths", "headers", "snis", "sources", "destinations", "strip_path"}, Run: checkRouteSubschema},
	},
}

func checkRouteHeaderName(v any) string {
	if strings.EqualFold(v.(string), "host") {
		return "cannot contain 'host' header, which must be specified in the 'hosts' attribute"
	}
	return schema.CheckHeaderName(v)
}

// checkProtocolFamilies rejects protocols from two exclusive subsets.
func checkProtocolFamilies(v any) string {
	seen := map[int]bool{}
	for _, p := range v.([]any) {
		if s, ok := p.(string); ok {
			if f := familyOf(s); f >= 0 {
				seen[f] = true
			}
		}
	}
	if len(seen) < 2 {
		return ""
	}
	sets := make([]string, len(routeFamilies))
	for i, f := range routeFamilies {
		sets[i] = "(" + quotedList(f) + ")"
	}
	return "these sets are mutually exclusive: " + strings.Join(sets, ", ")
}

func familyOf(protocol string) int {
	for i, f := range routeFamilies {
		if slices.Contains(f, protocol) {
			return i
		}
	}
	return -1
}

// routeSubschemaDefaults applies the grpc subschema's default: gRPC routes
// do not strip the path unless told.
func routeSubschemaDefaults(in map[string]any) {
	if _, given := in["strip_path"]; given {
		return
	}
	if ps, ok := in["protocols"].([]any); ok && len(ps) > 0 {
		if p, _ := ps[0].(string); p == "grpc" || p == "grpcs" {
			in["strip_path"] = false
		}
	}
}

func protocolsOf(m map[string]any) []string {
	list, _ := m["protocols"].([]any)
	out := make([]string, 0, len(list))
	for _, p := range list {
		if s, ok := p.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func checkRouteSNIs(m map[string]any, v *schema.Violations) {
	for _, p := range protocolsOf(m) {
		if slices.Contains([]string{"grpcs", "https", "tls", "tls_passthrough", "wss"}, p) {
			return
		}
	}
	if nonEmpty(m["snis"]) {
		v.AddEntity("failed conditional validation given value of field 'protocols'")
		v.Add("snis", "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls', 'tls_passthrough', or 'wss'")
	}
}

// checkRouteSubschema runs the checks of the subschema the route's first
// protocol selects: which fields a route of that family may not set, and
// which of them it must set at least one of.
func checkRouteSubschema(m map[string]any, v *schema.Violations) {
	protocols := protocolsOf(m)
	if len(protocols) == 0 {
		return
	}
	forbid := func(family string, fields ...string) {
		for _, f := range fields {
			if m[f] != nil {
				v.Add(f, "cannot set '"+f+"' when 'protocols' is "+family)
			}
		}
	}
	atLeastOne := func(protocol string, fields ...string) {
		for _, f := range fields {
			if nonEmpty(m[f]) {
				return
			}
		}
		v.AddEntity("must set one of " + quotedList(fields) + " when 'protocols' is '" + protocol + "'")
	}
	has := func(p string) bool { return slices.Contains(protocols, p) }
	switch familyOf(protocols[0]) {
	case 0: // http, https
		forbid("'http' or 'https'", "sources", "destinations")
		if has("https") {
			atLeastOne("https", "methods", "hosts", "headers", "paths", "snis")
		} else {
			atLeastOne("http", "methods", "hosts", "headers", "paths")
		}
	case 1, 2: // tcp, tls, udp; tls_passthrough
		forbid("'tcp', 'tls', 'tls_passthrough' or 'udp'", "methods", "hosts", "paths", "headers")
		if has("tls_passthrough") {
			if !nonEmpty(m["snis"]) {
				v.AddEntity("must set snis when 'protocols' is 'tls_passthrough'")
			}
		} else {
			for _, f := range []string{"sources", "destinations", "snis"} {
				if nonEmpty(m[f]) {
					return
				}
			}
			v.AddEntity("must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'")
		}
	case 3: // grpc, grpcs
		if m["strip_path"] == true {
			v.Add("strip_path", "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'")
		}
		forbid("'grpc' or 'grpcs'", "methods", "sources", "destinations")
		if has("grpcs") {
			atLeastOne("grpcs", "hosts", "headers", "paths", "snis")
		} else {
			atLeastOne("grpc", "hosts", "headers", "paths")
		}
	}
}

// nonEmpty is Kong's test for "set" in at_least_one_of checks: not null,
// and not an empty array, map or string.
func nonEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	case string:
		return t != ""
	}
	return true
}

func quotedList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}
