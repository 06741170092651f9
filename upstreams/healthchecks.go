package upstreams

import "github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"

// Healthchecks is an upstream's health-check configuration, in Kong's shape.
type Healthchecks struct {
	Active    ActiveHealthcheck  `json:"active"`
	Passive   PassiveHealthcheck `json:"passive"`
	Threshold float64            `json:"threshold"`
}

// ActiveHealthcheck configures probes sent to every target address.
type ActiveHealthcheck struct {
	Type                   string              `json:"type"`
	Timeout                float64             `json:"timeout"`
	Concurrency            int                 `json:"concurrency"`
	HTTPPath               string              `json:"http_path"`
	HTTPSSNI               *string             `json:"https_sni"`
	HTTPSVerifyCertificate bool                `json:"https_verify_certificate"`
	Headers                map[string][]string `json:"headers"`
	Healthy                ActiveHealthy       `json:"healthy"`
	Unhealthy              ActiveUnhealthy     `json:"unhealthy"`
}

// ActiveHealthy says when probing marks an address healthy.
type ActiveHealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	Successes    int     `json:"successes"`
}

// ActiveUnhealthy says when probing marks an address unhealthy.
type ActiveUnhealthy struct {
	Interval     float64 `json:"interval"`
	HTTPStatuses []int   `json:"http_statuses"`
	TCPFailures  int     `json:"tcp_failures"`
	Timeouts     int     `json:"timeouts"`
	HTTPFailures int     `json:"http_failures"`
}

// PassiveHealthcheck configures health tracking from proxied traffic.
type PassiveHealthcheck struct {
	Type      string           `json:"type"`
	Healthy   PassiveHealthy   `json:"healthy"`
	Unhealthy PassiveUnhealthy `json:"unhealthy"`
}

// PassiveHealthy says when proxied traffic marks an address healthy.
type PassiveHealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	Successes    int   `json:"successes"`
}

// PassiveUnhealthy says when proxied traffic marks an address unhealthy.
type PassiveUnhealthy struct {
	HTTPStatuses []int `json:"http_statuses"`
	TCPFailures  int   `json:"tcp_failures"`
	Timeouts     int   `json:"timeouts"`
	HTTPFailures int   `json:"http_failures"`
}

// Enabled reports whether the upstream has a health checker at all, by
// Kong's rule: any active interval or passive unhealthy counter non-zero.
func (h Healthchecks) Enabled() bool {
	return h.Active.Healthy.Interval > 0 || h.Active.Unhealthy.Interval > 0 ||
		h.Passive.Unhealthy.TCPFailures > 0 || h.Passive.Unhealthy.Timeouts > 0 ||
		h.Passive.Unhealthy.HTTPFailures > 0
}

func healthchecksField() schema.Field {
	probeType := func(def string) schema.Field {
		return schema.Field{Name: "type", Type: schema.String, Default: def,
			OneOf: schema.Strings("tcp", "http", "https", "grpc", "grpcs")}
	}
	seconds := func(name string, def float64) schema.Field {
		return schema.Field{Name: name, Type: schema.Number, Default: def, Between: schema.Between(0, 65535)}
	}
	counter := func(name string) schema.Field {
		return schema.Field{Name: name, Type: schema.Integer, Default: 0.0, Between: schema.Between(0, 255)}
	}
	statuses := func(def ...int) schema.Field {
		return schema.Field{Name: "http_statuses", Type: schema.Array, Default: schema.Clone(def),
			Elements: &schema.Field{Type: schema.Integer, Between: schema.Between(100, 999)}}
	}
	passiveHealthy := make([]int, 0, 19)
	for s := 200; s <= 208; s++ {
		passiveHealthy = append(passiveHealthy, s)
	}
	passiveHealthy = append(passiveHealthy, 226)
	for s := 300; s <= 308; s++ {
		passiveHealthy = append(passiveHealthy, s)
	}
	return schema.Field{Name: "healthchecks", Type: schema.Record, Fields: []schema.Field{
		{Name: "active", Type: schema.Record, Fields: []schema.Field{
			probeType("http"),
			seconds("timeout", 1),
			{Name: "concurrency", Type: schema.Integer, Default: 10.0, Between: schema.Between(1, 2147483648)},
			{Name: "http_path", Type: schema.String, Default: "/", Check: schema.CheckPath},
			{Name: "https_sni", Type: schema.String, Check: schema.CheckSNI},
			{Name: "https_verify_certificate", Type: schema.Boolean, Default: true, Required: true},
			{Name: "headers", Type: schema.Map, Keys: &schema.Field{Type: schema.String, Check: schema.CheckHeaderName},
				Values: &schema.Field{Type: schema.Array, Elements: &schema.Field{Type: schema.String}}},
			{Name: "healthy", Type: schema.Record, Fields: []schema.Field{
				seconds("interval", 0), statuses(200, 302), counter("successes"),
			}},
			{Name: "unhealthy", Type: schema.Record, Fields: []schema.Field{
				seconds("interval", 0), statuses(429, 404, 500, 501, 502, 503, 504, 505),
				counter("tcp_failures"), counter("timeouts"), counter("http_failures"),
			}},
		}},
		{Name: "passive", Type: schema.Record, Fields: []schema.Field{
			probeType("http"),
			{Name: "healthy", Type: schema.Record, Fields: []schema.Field{
				statuses(passiveHealthy...), counter("successes"),
			}},
			{Name: "unhealthy", Type: schema.Record, Fields: []schema.Field{
				statuses(429, 500, 503), counter("tcp_failures"), counter("timeouts"), counter("http_failures"),
			}},
		}},
		{Name: "threshold", Type: schema.Number, Default: 0.0, Between: schema.Between(0, 100)},
	}}
}
