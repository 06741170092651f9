package targets

import "context"

// SourceNamespace is the Caddy module namespace of target sources: a
// source named "kubernetes" is the module upstreams.sources.kubernetes.
const SourceNamespace = "upstreams.sources"

// Endpoint is one backend address a source discovered for its upstream.
type Endpoint struct {
	// Host is an IP address (or a hostname), without brackets.
	Host string
	// Port is the TCP port, 1 to 65535.
	Port int
	// Weight is the endpoint's share of traffic while it is ready, 0 to
	// 65535 (Kong's target weight range).
	Weight int
	// Terminating marks an endpoint that is shutting down: it keeps the
	// requests in flight and receives no new ones (its target is listed
	// with weight 0 until the source drops it).
	Terminating bool
	// Tags are shown as the target's tags (for example the pod's name).
	Tags []string
}

// Sink receives a source's endpoints. It is implemented by the registry.
type Sink interface {
	// Update replaces every endpoint of the source's upstream with the
	// given set: the full set each time, not a change. The slice is not
	// retained. Update may be called from any goroutine; calling it with
	// an unchanged set is cheap but still republishes the upstream.
	Update(endpoints []Endpoint)
}

// Source is implemented by the modules of namespace upstreams.sources
// (SourceNamespace). An upstream declared in config with a source gets its
// targets from it instead of from the store: they live in each node's
// memory and are read-only in the Admin API.
//
// A source is provisioned with the config that declares it; configuration
// errors (a missing field, an unreadable credentials file) belong in
// Provision or Validate so that they fail the config load.
type Source interface {
	// Run watches the source's backends and calls sink.Update with the
	// full set of endpoints once it knows it, then again after every
	// change, until ctx is cancelled. It returns nil when ctx is
	// cancelled, and must not call sink after returning. An error return
	// before that is logged and Run is called again after a delay; the
	// upstream keeps its last endpoints meanwhile.
	Run(ctx context.Context, sink Sink) error
}
