package upstreams

import (
	"net"
	"slices"
	"sort"
	"strconv"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// sourceBinding attaches a target source to an upstream, by name. It holds
// the endpoints the source last reported and the targets made of them for
// the upstream's current id. Those targets live in this node's memory only
// (never in the store), are listed, balanced and health-checked like any
// target, and are read-only in the Admin API.
//
// A binding belongs to one config: a reload binds the new config's source
// (which starts with the old binding's endpoints, so the upstream is not
// emptied while the new source starts) and the old binding is then
// unbound without effect. Updates from a binding that is no longer the
// upstream's are ignored.
type sourceBinding struct {
	reg      *Registry
	upstream string // upstream name
	label    string // "kubernetes source (Service default/web, port http)"

	// guarded by reg.mu
	endpoints  []sourcedEndpoint // sorted by target, one per target
	upstreamID string            // the upstream id the targets were built for
	targets    []*Target         // immutable values, shared with pools
}

// sourcedEndpoint is an endpoint in the registry's terms: a normalised
// target string and the weight it balances with (0 while terminating).
type sourcedEndpoint struct {
	target string
	weight int
	tags   []string
}

// Update implements targets.Sink: it replaces the upstream's source
// targets and republishes its pool.
func (b *sourceBinding) Update(endpoints []targets.Endpoint) {
	clean := cleanEndpoints(endpoints)
	r := b.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bindings[b.upstream] != b {
		return
	}
	b.endpoints = clean
	if id, ok := r.byName[b.upstream]; ok {
		r.version.Add(1)
		r.publishLocked(id)
	}
	r.logger.Debug("source targets updated",
		zap.String("upstream", b.upstream), zap.String("source", b.label), zap.Int("targets", len(clean)))
}

// cleanEndpoints normalises a source's endpoints: invalid addresses are
// dropped, weights clamped to Kong's range, terminating endpoints weigh 0,
// and an address reported twice keeps its ready entry.
func cleanEndpoints(in []targets.Endpoint) []sourcedEndpoint {
	byTarget := make(map[string]sourcedEndpoint, len(in))
	for _, e := range in {
		if e.Host == "" || e.Port < 1 || e.Port > 65535 {
			continue
		}
		target, ok := schema.NormalizeTarget(net.JoinHostPort(e.Host, strconv.Itoa(e.Port)))
		if !ok {
			continue
		}
		weight := min(max(e.Weight, 0), 65535)
		if e.Terminating {
			weight = 0
		}
		if prev, dup := byTarget[target]; dup && prev.weight >= weight {
			continue
		}
		byTarget[target] = sourcedEndpoint{target: target, weight: weight, tags: slices.Clone(e.Tags)}
	}
	out := make([]sourcedEndpoint, 0, len(byTarget))
	for _, e := range byTarget {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].target < out[j].target })
	return out
}

// refreshLocked rebuilds the binding's targets for upstream u. A target
// keeps its id (derived from upstream id and address) and creation time
// for as long as its address is reported; an unchanged target keeps its
// value. Addresses held by a target of the store are left to that target.
// reg.mu must be held for writing.
func (b *sourceBinding) refreshLocked(u *Upstream, stored map[string]*Target) {
	prev := map[string]*Target{}
	if b.upstreamID == u.ID {
		for _, t := range b.targets {
			prev[t.ID] = t
		}
	}
	taken := make(map[string]bool, len(stored))
	for _, t := range stored {
		taken[t.Target] = true
	}
	now := nowMillis()
	list := make([]*Target, 0, len(b.endpoints))
	for _, e := range b.endpoints {
		if taken[e.target] {
			continue
		}
		id := SourcedTargetID(u.ID, e.target)
		old := prev[id]
		if old != nil && old.Weight == e.weight && slices.Equal(old.Tags, e.tags) {
			list = append(list, old)
			continue
		}
		t := &Target{ID: id, CreatedAt: now, UpdatedAt: now, Upstream: ForeignKey{ID: u.ID},
			Target: e.target, Weight: e.weight, Tags: e.tags}
		if old != nil {
			t.CreatedAt = old.CreatedAt
		}
		list = append(list, t)
	}
	b.upstreamID, b.targets = u.ID, list
}

// sourcedTargetNamespace is the UUID namespace of source target ids.
var sourcedTargetNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/caddy-upstreams/caddy-upstreams/targets/source"))

// SourcedTargetID is the id of the target a source reports at address
// target (normalised) for the upstream with the given id: a version 5
// UUID, the same on every node and every list call.
func SourcedTargetID(upstreamID, target string) string {
	return uuid.NewSHA1(sourcedTargetNamespace, []byte(upstreamID+"|"+target)).String()
}

// bindSource makes a new binding the source of the named upstream. It
// starts with the endpoints of the binding it replaces, if any.
func (r *Registry) bindSource(upstream, label string) *sourceBinding {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &sourceBinding{reg: r, upstream: upstream, label: label}
	if old := r.bindings[upstream]; old != nil {
		b.endpoints, b.upstreamID, b.targets = old.endpoints, old.upstreamID, old.targets
	}
	if r.bindings == nil {
		r.bindings = map[string]*sourceBinding{}
	}
	r.bindings[upstream] = b
	return b
}

// unbindSource removes a binding if it is still its upstream's, and with
// it the upstream's source targets.
func (r *Registry) unbindSource(b *sourceBinding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bindings[b.upstream] != b {
		return
	}
	delete(r.bindings, b.upstream)
	if id, ok := r.byName[b.upstream]; ok {
		r.version.Add(1)
		r.publishLocked(id)
	}
}

// refreshSourcedLocked rebuilds the source targets of upstream u, if a
// source is bound to it. reg.mu must be held for writing.
func (r *Registry) refreshSourcedLocked(u *Upstream) {
	if b := r.bindings[u.Name]; b != nil {
		b.refreshLocked(u, r.targets[u.ID])
	}
}

// sourcedTargetsLocked returns the source targets of the upstream with
// the given id (nil when no source is bound to it).
func (r *Registry) sourcedTargetsLocked(upstreamID string) []*Target {
	u := r.upstreams[upstreamID]
	if u == nil {
		return nil
	}
	b := r.bindings[u.Name]
	if b == nil || b.upstreamID != upstreamID {
		return nil
	}
	return b.targets
}

// lookupSourcedTargetLocked finds a source target by id or target string.
func (r *Registry) lookupSourcedTargetLocked(upstreamID, key string) *Target {
	for _, t := range r.sourcedTargetsLocked(upstreamID) {
		if t.ID == key || t.Target == key {
			return t
		}
	}
	return nil
}

// refuseSourcedCreate is the error of a target POSTed into an upstream
// whose targets come from a source, or nil when none is bound.
func (r *Registry) refuseSourcedCreate(u *Upstream) error {
	b := r.bindings[u.Name]
	if b == nil {
		return nil
	}
	return schema.OperationUnsupported("cannot create 'targets' entities in upstream '" + u.Name +
		"': its targets are managed by the " + b.label)
}

// refuseSourcedWrite is the error of an update or removal (verb) of target
// t when a source manages it, or nil when t is a target of the store.
func (r *Registry) refuseSourcedWrite(u *Upstream, t *Target, verb string) error {
	if _, stored := r.targets[u.ID][t.ID]; stored {
		return nil
	}
	label := "target source"
	if b := r.bindings[u.Name]; b != nil {
		label = b.label
	}
	return schema.OperationUnsupported("cannot " + verb + " target '" + t.Target + "' of upstream '" + u.Name +
		"': it is managed by the " + label)
}
