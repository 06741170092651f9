package upstreams

import "github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"

// healthchecksField declares an upstream's healthchecks field (see
// health.Config), with Kong's defaults and bounds.
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
