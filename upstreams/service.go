package upstreams

import (
	"net/url"
	"slices"
	"strconv"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Service is where a route sends its requests: Kong's Service entity, field
// for field. Host names an upstream of the registry, or any host reached
// directly at Port.
type Service struct {
	ID                string      `json:"id"`
	CreatedAt         int64       `json:"created_at"`
	UpdatedAt         int64       `json:"updated_at"`
	Name              *string     `json:"name"`
	Retries           int         `json:"retries"`
	Protocol          string      `json:"protocol"`
	Host              string      `json:"host"`
	Port              int         `json:"port"`
	Path              *string     `json:"path"`
	ConnectTimeout    int         `json:"connect_timeout"`
	WriteTimeout      int         `json:"write_timeout"`
	ReadTimeout       int         `json:"read_timeout"`
	Tags              []string    `json:"tags"`
	ClientCertificate *ForeignKey `json:"client_certificate"`
	TLSVerify         *bool       `json:"tls_verify"`
	TLSVerifyDepth    *int        `json:"tls_verify_depth"`
	CACertificates    []string    `json:"ca_certificates"`
	Enabled           bool        `json:"enabled"`
}

// NameOrEmpty returns the service's name, or "" when it has none.
func (s *Service) NameOrEmpty() string { return deref(s.Name) }

// Service defaults, as Kong's.
const (
	DefaultServiceProtocol = "http"
	DefaultServicePort     = 80
	DefaultServiceRetries  = 5
	DefaultServiceTimeout  = 60000 // milliseconds
)

// timeoutField is Kong's nonzero_timeout: 1 ms to 2^31-2 ms.
func timeoutField(name string) schema.Field {
	return schema.Field{Name: name, Type: schema.Integer, Default: float64(DefaultServiceTimeout), Between: schema.Between(1, 2147483646)}
}

// ServiceSchema declares the service entity (Kong 3.x services.lua).
var ServiceSchema = &schema.Schema{
	Name:        "services",
	EndpointKey: "name",
	Fields: namedEntityFields([]schema.Field{
		{Name: "retries", Type: schema.Integer, Default: float64(DefaultServiceRetries), Between: schema.Between(0, 32767)},
		{Name: "protocol", Type: schema.String, Required: true, Default: DefaultServiceProtocol, OneOf: schema.Strings(schema.Protocols...)},
		{Name: "host", Type: schema.String, Required: true, Check: schema.CheckHost},
		{Name: "port", Type: schema.Integer, Required: true, Default: float64(DefaultServicePort), Between: schema.Between(0, 65535)},
		{Name: "path", Type: schema.String, Check: schema.CheckPath},
		timeoutField("connect_timeout"),
		timeoutField("write_timeout"),
		timeoutField("read_timeout"),
		schema.TagsField(),
		{Name: "client_certificate", Type: schema.Foreign, Reference: "certificates"},
		{Name: "tls_verify", Type: schema.Boolean},
		{Name: "tls_verify_depth", Type: schema.Integer, Between: schema.Between(0, 64)},
		{Name: "ca_certificates", Type: schema.Array, Elements: &schema.Field{Type: schema.String, UUID: true}},
		{Name: "enabled", Type: schema.Boolean, Required: true, Default: true},
	}),
	Shorthands: serviceURLShorthand,
	EntityChecks: []schema.EntityCheck{
		mustBeNullUnless("protocol", "path", "tcp", "tls", "udp", "grpc", "grpcs"),
		mustBeNullWhenNot("protocol", "client_certificate", "https", "tls"),
		mustBeNullWhenNot("protocol", "tls_verify", "https", "tls"),
		mustBeNullWhenNot("protocol", "tls_verify_depth", "https", "tls"),
		mustBeNullWhenNot("protocol", "ca_certificates", "https", "tls"),
	},
}

// mustBeNullUnless is Kong's conditional check "if ifField is one of
// values then thenField must be null".
func mustBeNullUnless(ifField, thenField string, values ...string) schema.EntityCheck {
	return nullConditional(ifField, thenField, func(v string) bool { return slices.Contains(values, v) })
}

// mustBeNullWhenNot is Kong's conditional check "if ifField is none of
// values then thenField must be null".
func mustBeNullWhenNot(ifField, thenField string, values ...string) schema.EntityCheck {
	return nullConditional(ifField, thenField, func(v string) bool { return !slices.Contains(values, v) })
}

func nullConditional(ifField, thenField string, applies func(string) bool) schema.EntityCheck {
	return schema.EntityCheck{Fields: []string{ifField, thenField}, Run: func(m map[string]any, v *schema.Violations) {
		if val, _ := m[ifField].(string); applies(val) && m[thenField] != nil {
			v.AddEntity("failed conditional validation given value of field '" + ifField + "'")
			v.Add(thenField, "value must be null")
		}
	}}
}

// serviceURLShorthand expands Kong's write-only "url" field into protocol,
// host, port and path.
func serviceURLShorthand(in map[string]any) {
	raw, ok := in["url"].(string)
	if !ok {
		return
	}
	delete(in, "url")
	u, err := url.Parse(raw)
	if err != nil {
		in["host"] = nil
		return
	}
	port := -1
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	protocol := u.Scheme
	if protocol == "" {
		switch port {
		case 443:
			protocol = "https"
		default:
			protocol = DefaultServiceProtocol
		}
	}
	if port < 0 {
		port = DefaultServicePort
		if protocol == "https" {
			port = 443
		}
	}
	in["protocol"] = protocol
	in["port"] = float64(port)
	if h := u.Hostname(); h != "" {
		in["host"] = h
	} else {
		in["host"] = nil
	}
	if u.EscapedPath() != "" {
		in["path"] = u.EscapedPath()
	} else {
		in["path"] = nil
	}
}
