package upstreams

import (
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// ForeignKey references another entity by id, rendered {"id": "..."}.
type ForeignKey struct {
	ID string `json:"id"`
}

// Upstream is a named pool of targets with a balancing algorithm and health
// checks: Kong's Upstream entity, field for field.
type Upstream struct {
	ID                       string        `json:"id"`
	CreatedAt                int64         `json:"created_at"`
	UpdatedAt                int64         `json:"updated_at"`
	Name                     string        `json:"name"`
	Algorithm                string        `json:"algorithm"`
	HashOn                   string        `json:"hash_on"`
	HashFallback             string        `json:"hash_fallback"`
	HashOnHeader             *string       `json:"hash_on_header"`
	HashFallbackHeader       *string       `json:"hash_fallback_header"`
	HashOnCookie             *string       `json:"hash_on_cookie"`
	HashOnCookiePath         string        `json:"hash_on_cookie_path"`
	HashOnQueryArg           *string       `json:"hash_on_query_arg"`
	HashFallbackQueryArg     *string       `json:"hash_fallback_query_arg"`
	HashOnURICapture         *string       `json:"hash_on_uri_capture"`
	HashFallbackURICapture   *string       `json:"hash_fallback_uri_capture"`
	Slots                    int           `json:"slots"`
	Healthchecks             health.Config `json:"healthchecks"`
	Tags                     []string      `json:"tags"`
	HostHeader               *string       `json:"host_header"`
	ClientCertificate        *ForeignKey   `json:"client_certificate"`
	UseSRVName               bool          `json:"use_srv_name"`
	StickySessionsCookie     *string       `json:"sticky_sessions_cookie"`
	StickySessionsCookiePath string        `json:"sticky_sessions_cookie_path"`
}

var hashOnValues = []string{"none", "consumer", "ip", "header", "cookie", "path", "query_arg", "uri_capture"}

// UpstreamSchema declares the upstream entity (Kong 3.x upstreams.lua, plus
// the sticky-sessions fields of Kong 3.11).
var UpstreamSchema = &schema.Schema{
	Name:        "upstreams",
	EndpointKey: "name",
	Fields: []schema.Field{
		{Name: "id", Type: schema.String, UUID: true, Auto: true},
		{Name: "created_at", Type: schema.Integer, Auto: true},
		{Name: "updated_at", Type: schema.Integer, Auto: true},
		{Name: "name", Type: schema.String, Required: true, Unique: true, Check: schema.CheckUpstreamName},
		{Name: "algorithm", Type: schema.String, Default: balance.RoundRobin,
			OneOf: schema.Strings(balance.ConsistentHashing, balance.LeastConnections, balance.RoundRobin, balance.Latency, balance.StickySessions)},
		{Name: "hash_on", Type: schema.String, Default: "none", OneOf: schema.Strings(hashOnValues...)},
		{Name: "hash_fallback", Type: schema.String, Default: "none", OneOf: schema.Strings(hashOnValues...)},
		{Name: "hash_on_header", Type: schema.String, Check: schema.CheckHeaderName},
		{Name: "hash_fallback_header", Type: schema.String, Check: schema.CheckHeaderName},
		{Name: "hash_on_cookie", Type: schema.String, Check: schema.CheckCookieName},
		{Name: "hash_on_cookie_path", Type: schema.String, Default: "/", Check: schema.CheckPath},
		{Name: "hash_on_query_arg", Type: schema.String, LenMin: 1},
		{Name: "hash_fallback_query_arg", Type: schema.String, LenMin: 1},
		{Name: "hash_on_uri_capture", Type: schema.String, LenMin: 1},
		{Name: "hash_fallback_uri_capture", Type: schema.String, LenMin: 1},
		{Name: "slots", Type: schema.Integer, Default: 10000.0, Between: schema.Between(10, 65536)},
		healthchecksField(),
		schema.TagsField(),
		{Name: "host_header", Type: schema.String, Check: schema.CheckHostWithOptionalPort},
		{Name: "client_certificate", Type: schema.Foreign, Reference: "certificates"},
		{Name: "use_srv_name", Type: schema.Boolean, Default: false},
		{Name: "sticky_sessions_cookie", Type: schema.String, Check: schema.CheckCookieName},
		{Name: "sticky_sessions_cookie_path", Type: schema.String, Default: "/", Check: schema.CheckPath},
	},
	Shorthands:   upstreamShorthands,
	EntityChecks: upstreamEntityChecks(),
}

// upstreamShorthands couples algorithm and hash_on as Kong's shorthand
// fields do: least-connections and latency clear hash_on; hash_on "none"
// selects round-robin; any other hash_on selects consistent-hashing.
func upstreamShorthands(in map[string]any) {
	if alg, ok := in["algorithm"].(string); ok {
		if alg == balance.LeastConnections || alg == balance.Latency || alg == balance.StickySessions {
			if _, given := in["hash_on"]; given || alg != balance.StickySessions {
				in["hash_on"] = nil
			}
		}
	}
	v, present := in["hash_on"]
	if !present {
		return
	}
	switch h := v.(type) {
	case nil:
		in["hash_on"] = "none"
	case string:
		if h == "none" {
			if alg, _ := in["algorithm"].(string); alg != balance.LeastConnections && alg != balance.Latency && alg != balance.StickySessions {
				in["algorithm"] = balance.RoundRobin
			}
		} else {
			in["algorithm"] = balance.ConsistentHashing
		}
	}
}

func upstreamEntityChecks() []schema.EntityCheck {
	conditional := func(ifField string, ifValue string, thenField string) schema.EntityCheck {
		return schema.EntityCheck{Fields: []string{ifField, thenField}, WithInvalidFields: true, Run: func(m map[string]any, v *schema.Violations) {
			if m[ifField] == ifValue && m[thenField] == nil {
				v.AddEntity("failed conditional validation given value of field '" + ifField + "'")
				v.Add(thenField, "required field missing")
			}
		}}
	}
	fallbackOneOf := func(hashOn string, allowed ...string) schema.EntityCheck {
		return schema.EntityCheck{Fields: []string{"hash_on", "hash_fallback"}, WithInvalidFields: true, Run: func(m map[string]any, v *schema.Violations) {
			if m["hash_on"] != hashOn {
				return
			}
			fb, _ := m["hash_fallback"].(string)
			for _, a := range allowed {
				if fb == a {
					return
				}
			}
			v.AddEntity("failed conditional validation given value of field 'hash_on'")
			msg := "expected one of: " + allowed[0]
			for _, a := range allowed[1:] {
				msg += ", " + a
			}
			v.Add("hash_fallback", msg)
		}}
	}
	distinct := func(a, b string) schema.EntityCheck {
		return schema.EntityCheck{Fields: []string{a, b}, Run: func(m map[string]any, v *schema.Violations) {
			if m[a] != nil && m[a] == m[b] {
				v.AddEntity("values of these fields must be distinct: '" + a + "', '" + b + "'")
			}
		}}
	}
	return []schema.EntityCheck{
		conditional("hash_on", "header", "hash_on_header"),
		conditional("hash_fallback", "header", "hash_fallback_header"),
		conditional("hash_on", "cookie", "hash_on_cookie"),
		conditional("hash_fallback", "cookie", "hash_on_cookie"),
		fallbackOneOf("none", "none"),
		fallbackOneOf("cookie", "none"),
		fallbackOneOf("consumer", "none", "ip", "header", "cookie", "path", "query_arg", "uri_capture"),
		fallbackOneOf("ip", "none", "consumer", "header", "cookie", "path", "query_arg", "uri_capture"),
		fallbackOneOf("path", "none", "consumer", "header", "cookie", "query_arg", "ip", "uri_capture"),
		distinct("hash_on_header", "hash_fallback_header"),
		conditional("hash_on", "query_arg", "hash_on_query_arg"),
		conditional("hash_fallback", "query_arg", "hash_fallback_query_arg"),
		distinct("hash_on_query_arg", "hash_fallback_query_arg"),
		conditional("hash_on", "uri_capture", "hash_on_uri_capture"),
		conditional("hash_fallback", "uri_capture", "hash_fallback_uri_capture"),
		distinct("hash_on_uri_capture", "hash_fallback_uri_capture"),
		{Fields: []string{"algorithm", "sticky_sessions_cookie"}, Run: func(m map[string]any, v *schema.Violations) {
			if m["algorithm"] == balance.StickySessions && m["sticky_sessions_cookie"] == nil {
				v.AddEntity("failed conditional validation given value of field 'algorithm'")
				v.Add("sticky_sessions_cookie", "required field missing")
			}
		}},
	}
}

// balanceConfig is what the balancing algorithms need of an upstream.
func balanceConfig(u *Upstream) balance.Config {
	return balance.Config{
		UpstreamID: u.ID,
		Algorithm:  u.Algorithm,
		Slots:      u.Slots,
		HashOn: balance.Input{On: u.HashOn, Header: deref(u.HashOnHeader),
			QueryArg: deref(u.HashOnQueryArg), URICapture: deref(u.HashOnURICapture)},
		HashFallback: balance.Input{On: u.HashFallback, Header: deref(u.HashFallbackHeader),
			QueryArg: deref(u.HashFallbackQueryArg), URICapture: deref(u.HashFallbackURICapture)},
		HashCookie:       deref(u.HashOnCookie),
		HashCookiePath:   u.HashOnCookiePath,
		StickyCookie:     deref(u.StickySessionsCookie),
		StickyCookiePath: u.StickySessionsCookiePath,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
