package upstreams

import "github.com/caddy-upstreams/caddy-upstreams/upstreams/health"

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
	report := health.ClassifyRoundTrip(p.Upstream.Healthchecks.Passive, rt)
	l := labels(p.Upstream, a)
	p.signals.ObservedPassively(l, report)
	if flipped, healthy := a.State.Observe(report, p.passive); flipped {
		p.signals.Changed(l, healthy, "passive check")
	}
}

// labels name an address in health metrics, logs and events.
func labels(u *Upstream, a *Address) health.Labels {
	return health.Labels{Upstream: u.Name, Target: a.Target.Target, Dial: a.Dial}
}
