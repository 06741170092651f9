package upstreams

import (
	"net/http"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

// passiveLimits are the consecutive-observation thresholds of passive
// checks; all zero when passive checks cannot change anything.
func passiveLimits(h Healthchecks) health.Limits {
	if !h.Enabled() {
		return health.Limits{}
	}
	p := h.Passive
	return health.Limits{Successes: p.Healthy.Successes, HTTPFailures: p.Unhealthy.HTTPFailures,
		TCPFailures: p.Unhealthy.TCPFailures, Timeouts: p.Unhealthy.Timeouts}
}

// PassiveChecks reports whether proxied traffic can change the health of
// the pool's addresses (Kong's passive checks: any passive counter above
// 0). The proxy may skip ReportRoundTrip when it is false.
func (p *Pool) PassiveChecks() bool { return p.passive != health.Limits{} }

// ReportRoundTrip feeds one proxied round trip to a into the pool's passive
// health checks, with Kong's classification: a transport timeout or a 504
// counts as a timeout, any other transport error as a TCP failure, a status
// in passive.healthy.http_statuses as a success, one in
// passive.unhealthy.http_statuses as an HTTP failure, and any other status
// as nothing. The counters are the address's own, shared with active
// checks, as in Kong. Reaching a limit flips the address's health, which
// the next pick sees; the change is logged, exported and emitted as an
// event like any other.
func (p *Pool) ReportRoundTrip(a *Address, rt health.RoundTrip) {
	if !p.PassiveChecks() {
		return
	}
	report := passiveReport(p.Upstream.Healthchecks.Passive, rt)
	p.signals.observedPassively(p.Upstream, a, report)
	if flipped, healthy := a.State.Observe(report, p.passive); flipped {
		p.signals.changed(p.Upstream, a, healthy, "passive check")
	}
}

// passiveReport classifies a round trip for passive checks.
func passiveReport(cfg PassiveHealthcheck, rt health.RoundTrip) health.Report {
	if rt.Err != nil {
		return classifyDialError(rt.Err)
	}
	if rt.Status == http.StatusGatewayTimeout {
		return health.Timeout
	}
	return classifyStatus(rt.Status, cfg.Healthy.HTTPStatuses, cfg.Unhealthy.HTTPStatuses)
}

// classifyStatus is Kong's status rule shared by active and passive checks:
// a status in the healthy list is a success, one in the unhealthy list an
// HTTP failure, any other is ignored.
func classifyStatus(status int, healthy, unhealthy []int) health.Report {
	for _, s := range healthy {
		if status == s {
			return health.Success
		}
	}
	for _, s := range unhealthy {
		if status == s {
			return health.HTTPFailure
		}
	}
	return health.Ignored
}
