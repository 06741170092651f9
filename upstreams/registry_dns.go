package upstreams

import "github.com/caddy-upstreams/caddy-upstreams/targets"

// SetResolver makes res the resolver of the registry's hostname targets.
// The first call starts resolving them (until then a hostname target is
// dialled by name); later calls, on config reloads, have every hostname
// looked up again with the new resolver. It returns once the first
// lookups have been published, or after the resolver's first-lookup
// timeout.
func (r *Registry) SetResolver(res targets.Resolver) {
	if first := r.hosts.setResolver(res); first {
		r.mu.Lock()
		for id := range r.upstreams {
			r.publishLocked(id)
		}
		r.mu.Unlock()
	}
	r.hosts.awaitFirstLookups()
}

// republish rebuilds and publishes the pool of upstream id, when a
// hostname's answer changed. It runs in the hostname's watcher.
func (r *Registry) republish(upstreamID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.publishLocked(upstreamID)
}
