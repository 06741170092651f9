package upstreams

import (
	"context"

	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// SetTargetHealth is a manual healthy/unhealthy call (the Admin API's
// .../healthy and .../unhealthy): it forces the state of the target's
// addresses (only host:port when host is not empty) on every node. On a
// store shared by several nodes (a HealthBroadcaster) the mark is
// broadcast first, and a failed broadcast is returned as a Kong database
// error (503 when the store is out of reach) with nothing changed on any
// node; then it is applied here (see MarkTargetHealth). It returns false
// when no address of this node's pool matched.
func (r *Registry) SetTargetHealth(ctx context.Context, upstreamName, targetID, host string, port int, healthy bool) (bool, error) {
	pool := r.Pool(upstreamName)
	if pool == nil || !pool.hasTargetAddress(targetID, host, port) {
		return false, nil
	}
	if hb, ok := r.store.(HealthBroadcaster); ok {
		m := HealthMark{UpstreamID: pool.Upstream.ID, TargetID: targetID, Host: host, Port: port, Healthy: healthy}
		if err := hb.BroadcastHealth(ctx, m); err != nil {
			return false, r.storeError("broadcasting a health mark", err)
		}
	}
	return r.MarkTargetHealth(upstreamName, targetID, host, port, healthy), nil
}

// applyHealthMark applies a mark broadcast by another node. A target this
// node does not know (deleted meanwhile) is skipped.
func (r *Registry) applyHealthMark(m HealthMark) {
	u, ok := r.Upstream(m.UpstreamID)
	if !ok || !r.MarkTargetHealth(u.Name, m.TargetID, m.Host, m.Port, m.Healthy) {
		r.logger.Debug("health mark from another node matches no address here",
			zap.String("upstream_id", m.UpstreamID), zap.String("target_id", m.TargetID))
		return
	}
	r.logger.Debug("applied a health mark from another node", zap.String("upstream", u.Name),
		zap.String("target_id", m.TargetID), zap.Bool("healthy", m.Healthy))
}

// MarkTargetHealth is a manual healthy/unhealthy on this node only: it
// forces the state of the target's addresses (only host:port when host is
// not empty), resets their counters and reports the transitions. It
// returns false when no address matched. Nothing is persisted.
func (r *Registry) MarkTargetHealth(upstreamName, targetID, host string, port int, healthy bool) bool {
	pool := r.Pool(upstreamName)
	if pool == nil {
		return false
	}
	found := false
	for i := range pool.Addresses {
		a := &pool.Addresses[i]
		if !a.isOf(targetID, host, port) {
			continue
		}
		found = true
		was := a.State.Healthy()
		a.State.ForceHealthy(healthy)
		if was != healthy {
			r.signals.Changed(labels(pool.Upstream, a), healthy, "manual")
		}
	}
	return found
}

// hasTargetAddress reports whether an address of the pool is of the target
// (and is host:port, when host is not empty).
func (p *Pool) hasTargetAddress(targetID, host string, port int) bool {
	for i := range p.Addresses {
		a := &p.Addresses[i]
		if a.isOf(targetID, host, port) {
			return true
		}
	}
	return false
}

// isOf reports whether a is an address of the target (and is host:port,
// when host is not empty). host may be the address's IP or, as in Kong,
// the name it came from: the SRV entry's name (the name the health
// endpoint lists) or the target's hostname, which names every address
// of the target on that port.
func (a *Address) isOf(targetID, host string, port int) bool {
	if a.Target.ID != targetID {
		return false
	}
	if host == "" {
		return true
	}
	return a.Port == port && (a.Host == host || (a.Name != "" && (a.Name == host || a.targetHost() == host)))
}

// HealthName is the host the health endpoint lists for the address, as
// Kong does: the SRV entry's name for an address from an SRV answer (Kong
// balances SRV entries by name), else the IP (or the hostname dialled as
// such when hostnames are not resolved).
func (a *Address) HealthName() string {
	if a.SRV {
		return a.Name
	}
	return a.Host
}

// targetHost is the hostname of a's target.
func (a *Address) targetHost() string {
	if !a.SRV {
		return a.Name
	}
	host, _, _ := schema.ParseTarget(a.Target.Target)
	return host
}
