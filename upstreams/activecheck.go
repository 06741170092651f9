package upstreams

import "github.com/caddy-upstreams/caddy-upstreams/upstreams/health"

// syncProbes hands a published pool's addresses to the active checker,
// which starts, restarts or stops their probe loops.
func (r *Registry) syncProbes(p *Pool) {
	u := p.Upstream
	var probes []health.Probe
	for i := range p.Addresses {
		a := &p.Addresses[i]
		if a.Weight > 0 { // Kong registers only addresses with weight > 0
			probes = append(probes, health.Probe{Labels: labels(u, a), Key: a.stateKey().String(),
				Port: a.Port, Host: hostName(u, a), State: &a.State.State})
		}
	}
	r.checker.Sync(u.ID, u.Healthchecks.Active, u.HostHeader, probes)
}
