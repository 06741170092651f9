package upstreams

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// HostResolution is the DNS state of one hostname of an upstream's
// targets, as a pool was built with.
type HostResolution struct {
	// Type is the record type of Addresses ("A", "AAAA", "SRV"); "" until a
	// lookup has succeeded.
	Type string
	// Addresses are those of the last successful lookup. A failed lookup
	// keeps them.
	Addresses []targets.Resolved
	// Err is the latest lookup's error, nil when it succeeded.
	Err error
}

// DNSSource is the hostname's data.dns value in Kong's health output: the
// record type of the last good answer while lookups succeed, the error of
// the latest lookup when it failed, "unknown" before the first lookup.
func (h *HostResolution) DNSSource() string {
	switch {
	case errors.Is(h.Err, errNotResolvedYet):
		return "unknown"
	case h.Err != nil:
		return h.Err.Error()
	}
	return h.Type
}

// errNotResolvedYet is the state of a hostname whose first lookup has not
// completed.
var errNotResolvedYet = errors.New("not resolved yet")

// hostWatchers resolve the hostnames of every upstream's targets in the
// background: one watcher per distinct hostname of an upstream, which
// looks the name up when the previous answer's TTL runs out (or the
// resolver's retry interval after a failure) and has the upstream's pool
// rebuilt when the answer changes. Watchers start and stop with pool
// publications, and never run on the request path.
type hostWatchers struct {
	logger    *zap.Logger
	republish func(upstreamID string) // rebuilds and publishes a pool; takes the registry's lock
	resolver  atomic.Pointer[resolverBox]

	mu      sync.Mutex
	watches map[string]map[string]*hostWatch // upstream id -> hostname -> watch
	pending []*hostWatch                     // started, first lookup not yet published
	wg      sync.WaitGroup
}

// resolverBox lets an interface value live in an atomic.Pointer.
type resolverBox struct{ targets.Resolver }

// hostWatch is the watcher of one hostname of one upstream.
type hostWatch struct {
	cancel context.CancelFunc
	kick   chan struct{} // a lookup now, e.g. after a resolver change
	ready  chan struct{} // closed once the first lookup's pool is published
	state  atomic.Pointer[HostResolution]
}

func newHostWatchers(logger *zap.Logger, republish func(string)) *hostWatchers {
	return &hostWatchers{logger: logger, republish: republish, watches: map[string]map[string]*hostWatch{}}
}

// setResolver makes res the resolver of every watcher and has every name
// looked up again with it. It reports whether there was none before.
func (w *hostWatchers) setResolver(res targets.Resolver) (first bool) {
	old := w.resolver.Swap(&resolverBox{res})
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, byHost := range w.watches {
		for _, hw := range byHost {
			select {
			case hw.kick <- struct{}{}:
			default:
			}
		}
	}
	return old == nil
}

// enabled reports whether hostnames are resolved by the watchers. Without
// a resolver (a registry used outside the upstreams app), a hostname
// target is handed to the proxy as is.
func (w *hostWatchers) enabled() bool { return w.resolver.Load() != nil }

// sync makes the watchers of an upstream those of hosts, and returns the
// current resolution of each.
func (w *hostWatchers) sync(upstreamID string, hosts []string) map[string]*HostResolution {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		want[h] = true
	}
	cur := w.watches[upstreamID]
	for host, hw := range cur {
		if !want[host] {
			hw.cancel()
			delete(cur, host)
		}
	}
	if len(hosts) == 0 {
		delete(w.watches, upstreamID)
		return nil
	}
	if cur == nil {
		cur = map[string]*hostWatch{}
		w.watches[upstreamID] = cur
	}
	out := make(map[string]*HostResolution, len(hosts))
	for _, host := range hosts {
		hw := cur[host]
		if hw == nil {
			hw = w.startLocked(upstreamID, host)
			cur[host] = hw
		}
		out[host] = hw.state.Load()
	}
	return out
}

func (w *hostWatchers) startLocked(upstreamID, host string) *hostWatch {
	ctx, cancel := context.WithCancel(context.Background())
	hw := &hostWatch{cancel: cancel, kick: make(chan struct{}, 1), ready: make(chan struct{})}
	hw.state.Store(&HostResolution{Err: errNotResolvedYet})
	w.pending = append(w.pending, hw)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx, upstreamID, host, hw)
	}()
	return hw
}

// stop ends the watchers of an upstream.
func (w *hostWatchers) stop(upstreamID string) { w.sync(upstreamID, nil) }

// close ends every watcher and waits for them. The registry's lock must
// not be held: a watcher may be waiting for it.
func (w *hostWatchers) close() {
	w.mu.Lock()
	for id := range w.watches {
		for _, hw := range w.watches[id] {
			hw.cancel()
		}
		delete(w.watches, id)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// awaitFirstLookups waits, at most the resolver's first-lookup timeout,
// until the watchers started since the last call have published their
// first answer, so the first request after a write that added a hostname
// finds its addresses. The registry's lock must not be held.
func (w *hostWatchers) awaitFirstLookups() {
	w.mu.Lock()
	pending := w.pending
	w.pending = nil
	w.mu.Unlock()
	box := w.resolver.Load()
	if len(pending) == 0 || box == nil {
		return
	}
	deadline := time.NewTimer(box.FirstLookupTimeout())
	defer deadline.Stop()
	for _, hw := range pending {
		select {
		case <-hw.ready:
		case <-deadline.C:
			return
		}
	}
}

// run is one hostname's watcher loop.
func (w *hostWatchers) run(ctx context.Context, upstreamID, host string, hw *hostWatch) {
	defer func() {
		select {
		case <-hw.ready:
		default:
			close(hw.ready)
		}
	}()
	first := true
	for {
		wait := w.lookup(ctx, host, hw)
		if ctx.Err() != nil {
			return
		}
		if first || wait.changed {
			w.republish(upstreamID)
		}
		if first {
			close(hw.ready)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-hw.kick:
		case <-time.After(wait.after):
		}
	}
}

// lookupResult says when to look up again and whether the pool needs a
// rebuild.
type lookupResult struct {
	after   time.Duration
	changed bool
}

// lookup resolves host once and stores the new state: the answer, or the
// previous addresses with the error.
func (w *hostWatchers) lookup(ctx context.Context, host string, hw *hostWatch) lookupResult {
	res := w.resolver.Load().Resolver
	prev := hw.state.Load()
	ans, err := res.Resolve(ctx, host)
	if ctx.Err() != nil {
		return lookupResult{}
	}
	next := &HostResolution{Type: ans.Type, Addresses: ans.Addresses}
	after := ans.TTL
	if err != nil {
		after = res.RetryInterval()
		next = &HostResolution{Type: prev.Type, Addresses: prev.Addresses, Err: err}
		if prev.Err == nil || prev.Err.Error() != err.Error() {
			w.logger.Warn("DNS lookup failed; keeping the last good addresses",
				zap.String("host", host), zap.Int("addresses", len(prev.Addresses)), zap.Error(err))
		}
	}
	hw.state.Store(next)
	changed := !sameResolution(prev, next)
	if changed && err == nil {
		w.logger.Info("hostname resolved", zap.String("host", host), zap.String("type", next.Type),
			zap.Int("addresses", len(next.Addresses)), zap.Duration("ttl", ans.TTL))
	}
	return lookupResult{after: after, changed: changed}
}

// sameResolution reports whether two states build the same pool and
// health output.
func sameResolution(a, b *HostResolution) bool {
	errText := func(e error) string {
		if e == nil {
			return ""
		}
		return e.Error()
	}
	return a.Type == b.Type && slices.Equal(a.Addresses, b.Addresses) && errText(a.Err) == errText(b.Err)
}
