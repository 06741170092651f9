package health

// Config is an upstream's health-check configuration (its healthchecks
// field), in Kong's shape.
type Config struct {
	Active    Active  `json:"active"`
	Passive   Passive `json:"passive"`
	Threshold float64 `json:"threshold"`
}

// Active configures probes sent to every target address.
type Active struct {
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

// Passive configures health tracking from proxied traffic.
type Passive struct {
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
func (h Config) Enabled() bool {
	return h.Active.Healthy.Interval > 0 || h.Active.Unhealthy.Interval > 0 ||
		h.Passive.Unhealthy.TCPFailures > 0 || h.Passive.Unhealthy.Timeouts > 0 ||
		h.Passive.Unhealthy.HTTPFailures > 0
}

// PassiveLimits are the consecutive-observation thresholds of passive
// checks; all zero when passive checks cannot change anything.
func (h Config) PassiveLimits() Limits {
	if !h.Enabled() {
		return Limits{}
	}
	p := h.Passive
	return Limits{Successes: p.Healthy.Successes, HTTPFailures: p.Unhealthy.HTTPFailures,
		TCPFailures: p.Unhealthy.TCPFailures, Timeouts: p.Unhealthy.Timeouts}
}

// Limits are the consecutive-observation thresholds of active checks.
func (a Active) Limits() Limits {
	return Limits{Successes: a.Healthy.Successes, HTTPFailures: a.Unhealthy.HTTPFailures,
		TCPFailures: a.Unhealthy.TCPFailures, Timeouts: a.Unhealthy.Timeouts}
}
