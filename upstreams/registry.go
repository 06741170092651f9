package upstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Registry holds the upstreams and targets: their authoritative copy is the
// Store, the Registry keeps them in memory for reads and publishes one
// immutable Pool per upstream for the proxy. Writes are serialised, durable
// before they are acknowledged, and visible to the proxy as soon as they
// return. Reads of pools take no lock; other reads never wait for the
// store, not even behind a write that does (see registry_write.go).
type Registry struct {
	store  Store
	logger *zap.Logger

	writing   chan struct{}                 // holds a token while a write runs: serialises writes, store call included
	mu        sync.RWMutex                  // the state lock: guards the maps below, never held across a store call
	upstreams map[string]*Upstream          // by id
	byName    map[string]string             // upstream name -> id
	targets   map[string]map[string]*Target // upstream id -> target id -> target
	bindings  map[string]*sourceBinding     // upstream name -> its target source
	managed   *managedLayer                 // entities a controller holds in memory (registry_managed.go)
	services  namedIndex[*Service]
	routes    namedIndex[*Route]

	gateway  atomic.Pointer[Gateway]          // services and routes for the proxy (immutable, replaced whole)
	declared atomic.Pointer[declarativeStamp] // the last POST /config

	pools   sync.Map // upstream name -> *Pool (immutable, replaced whole)
	states  addressStates
	version atomic.Uint64
	// writes counts the batches this node has written to the store; a
	// Reload whose Load overlapped one retries (see Reload).
	writes  atomic.Uint64
	checker *health.Checker
	signals *health.Signals
	hosts   *hostWatchers

	cancel context.CancelFunc
	done   chan struct{}
}

// NewRegistry returns a registry backed by store, loaded with its records.
// If store implements ChangeNotifier, the registry reloads whenever it
// reports a change, until Close.
func NewRegistry(ctx context.Context, store Store, logger *zap.Logger) (*Registry, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Registry{store: store, logger: logger, signals: health.NewSignals(logger.Named("health")),
		writing: make(chan struct{}, 1)}
	r.checker = health.NewChecker(logger.Named("healthcheck"), r.signals)
	r.services, r.routes = newNamedIndex[*Service](), newNamedIndex[*Route]()
	r.gateway.Store(emptyGateway())
	r.hosts = newHostWatchers(logger.Named("dns"), r.republish)
	if err := r.Reload(ctx); err != nil {
		return nil, err
	}
	if n, ok := store.(ChangeNotifier); ok {
		bg, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.done = make(chan struct{})
		go func() {
			defer close(r.done)
			onChange := func() {
				if err := r.Reload(bg); err != nil && bg.Err() == nil {
					r.logger.Warn("reloading the registry after a store change failed", zap.Error(err))
				}
			}
			var err error
			if hb, ok := store.(HealthBroadcaster); ok {
				err = hb.SubscribeWithHealth(bg, onChange, r.applyHealthMark)
			} else {
				err = n.Subscribe(bg, onChange)
			}
			if err != nil && bg.Err() == nil {
				r.logger.Error("store change subscription ended", zap.Error(err))
			}
		}()
	}
	return r, nil
}

// Close stops change subscriptions and health checks and closes the store.
func (r *Registry) Close() error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	r.hosts.close() // first: a watcher's last pool publication may start probes
	r.checker.Close()
	return r.store.Close()
}

// Destruct implements caddy.Destructor so a Registry can live in a UsagePool.
func (r *Registry) Destruct() error { return r.Close() }

// Version is a counter bumped on every change the registry publishes.
func (r *Registry) Version() uint64 { return r.version.Load() }

// reloadAttempts bounds how often Reload loads: after reloadAttempts-1
// loads that a write of this node overlapped, it loads holding writes off.
const reloadAttempts = 5

// Reload replaces the in-memory state with the store's records and
// republishes every pool. It is how a node catches up with writes made by
// other nodes.
//
// The store is read without holding the state lock, so reads and the
// proxy never wait for the database. A write of this node that commits
// while Reload is loading may be missing from what was loaded; Reload then
// loads again rather than put back the older state over the write, and
// after a few such overlaps loads once with writes held off (reads still
// go on meanwhile).
func (r *Registry) Reload(ctx context.Context) error {
	defer r.hosts.awaitFirstLookups()
	for range reloadAttempts - 1 {
		if swapped, err := r.reloadOnce(ctx); err != nil || swapped {
			return err
		}
	}
	// Writes keep overlapping: load once more with writes held off.
	if err := r.lockWrites(ctx); err != nil {
		return err
	}
	defer r.unlockWrites()
	st, err := r.loadState(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.installLocked(st)
	return nil
}

// reloadOnce loads the store and swaps the state in, unless a write of
// this node committed during the load (swapped is then false).
func (r *Registry) reloadOnce(ctx context.Context) (swapped bool, err error) {
	writesBefore := r.writes.Load()
	st, err := r.loadState(ctx)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.writes.Load() != writesBefore {
		// A write was stored meanwhile and may be installed already: what
		// was loaded may lack it. (A write whose store call returns after
		// this check installs its change on what is installed here.)
		return false, nil
	}
	r.installLocked(st)
	return true, nil
}

// loadState reads and decodes every record of the store.
func (r *Registry) loadState(ctx context.Context) (*registryState, error) {
	recs, err := r.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading registry: %w", err)
	}
	return stateFromRecords(recs)
}

// Pool returns the published pool of the named upstream, or nil. It takes
// no lock and allocates nothing: it is the proxy's hot path.
func (r *Registry) Pool(name string) *Pool {
	if p, ok := r.pools.Load(name); ok {
		return p.(*Pool)
	}
	return nil
}

// publishLocked rebuilds and publishes the pool of upstream id. r.mu must be held.
func (r *Registry) publishLocked(id string) {
	u := r.upstreams[id]
	if u == nil {
		return
	}
	r.refreshSourcedLocked(u)
	list := r.sortedTargetsLocked(id)
	var resolved map[string]*HostResolution
	if r.hosts.enabled() {
		resolved = r.hosts.sync(id, hostnames(list))
	}
	p := newPool(u, list, resolved, &r.states, r.Pool(u.Name), r.version.Load())
	p.signals = r.signals
	r.pools.Store(u.Name, p)
	r.syncProbes(p)
}

// sortedTargetsLocked returns an upstream's targets, the store's and its
// source's, oldest first.
func (r *Registry) sortedTargetsLocked(upstreamID string) []*Target {
	m := r.targets[upstreamID]
	sourced := r.sourcedTargetsLocked(upstreamID)
	list := make([]*Target, 0, len(m)+len(sourced))
	for _, t := range m {
		list = append(list, t)
	}
	list = append(list, sourced...)
	sort.Slice(list, func(i, j int) bool {
		if list[i].CreatedAt != list[j].CreatedAt {
			return list[i].CreatedAt < list[j].CreatedAt
		}
		return list[i].ID < list[j].ID
	})
	return list
}

// ---- reads (copies, safe to hand out) ----

// Upstream returns the upstream addressed by key: an id when key is a
// UUID, otherwise a name.
func (r *Registry) Upstream(key string) (Upstream, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u := r.lookupUpstreamLocked(key)
	if u == nil {
		return Upstream{}, false
	}
	return *u, true
}

// Upstreams returns every upstream ordered by id.
func (r *Registry) Upstreams() []Upstream {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Upstream, 0, len(r.upstreams))
	for _, u := range r.upstreams {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Targets returns the targets of the upstream addressed by key, oldest
// first, and whether the upstream exists.
func (r *Registry) Targets(upstreamKey string) ([]Target, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u := r.lookupUpstreamLocked(upstreamKey)
	if u == nil {
		return nil, false
	}
	sorted := r.sortedTargetsLocked(u.ID)
	out := make([]Target, len(sorted))
	for i, t := range sorted {
		out[i] = *t
	}
	return out, true
}

// Target returns the target addressed by targetKey (an id, or the
// normalised target string compared verbatim) in the given upstream.
func (r *Registry) Target(upstreamKey, targetKey string) (Target, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	u := r.lookupUpstreamLocked(upstreamKey)
	if u == nil {
		return Target{}, false
	}
	t := r.lookupTargetLocked(u.ID, targetKey)
	if t == nil {
		return Target{}, false
	}
	return *t, true
}

func (r *Registry) lookupUpstreamLocked(key string) *Upstream {
	if schema.IsUUID(key) {
		return r.upstreams[key]
	}
	return r.upstreams[r.byName[key]]
}

func (r *Registry) lookupTargetLocked(upstreamID, key string) *Target {
	m := r.targets[upstreamID]
	if schema.IsUUID(key) {
		if t := m[key]; t != nil {
			return t
		}
		return r.lookupSourcedTargetLocked(upstreamID, key)
	}
	var found *Target
	for _, t := range m {
		if t.Target == key && (found == nil || t.CreatedAt > found.CreatedAt) {
			found = t
		}
	}
	if found == nil {
		found = r.lookupSourcedTargetLocked(upstreamID, key)
	}
	return found
}

func (r *Registry) targetByAddressLocked(upstreamID, target string) *Target {
	for _, t := range r.targets[upstreamID] {
		if t.Target == target {
			return t
		}
	}
	return nil
}

// ---- writes ----

// CreateUpstream inserts an upstream from a decoded request body (POST).
func (r *Registry) CreateUpstream(ctx context.Context, in map[string]any) (*Upstream, error) {
	return writeEntity(ctx, r, func() (*Upstream, change, error) {
		m, verr := UpstreamSchema.Process(in, schema.Insert)
		if verr != nil {
			return nil, change{}, schema.SchemaViolation(verr)
		}
		now := time.Now().Unix()
		fillAuto(m, float64(now), true)
		u, err := decodeInto[Upstream](m)
		if err != nil {
			return nil, change{}, err
		}
		if _, taken := r.upstreams[u.ID]; taken {
			return nil, change{}, primaryKeyViolation(u.ID)
		}
		if _, taken := r.byName[u.Name]; taken {
			return nil, change{}, schema.UniqueViolation(map[string]any{"name": u.Name})
		}
		return r.putUpstream(u)
	})
}

// UpsertUpstream creates or fully replaces the upstream addressed by key
// (PUT). The key wins over the body: a UUID key sets the id, any other key
// sets the name.
func (r *Registry) UpsertUpstream(ctx context.Context, key string, in map[string]any) (*Upstream, error) {
	if err := CheckUpstreamKey(key); err != nil {
		return nil, err
	}
	return writeEntity(ctx, r, func() (*Upstream, change, error) {
		if schema.IsUUID(key) {
			in["id"] = key
		} else {
			in["name"] = key
		}
		m, verr := UpstreamSchema.Process(in, schema.Upsert)
		if verr != nil {
			return nil, change{}, schema.SchemaViolation(verr)
		}
		existing := r.lookupUpstreamLocked(key)
		if existing != nil && m["id"] == nil {
			m["id"] = existing.ID
		}
		now := nowSeconds()
		fillAuto(m, now, true)
		m["updated_at"] = now
		u, err := decodeInto[Upstream](m)
		if err != nil {
			return nil, change{}, err
		}
		if existing != nil && existing.ID != u.ID {
			// the name is taken by another upstream than the id given
			return nil, change{}, schema.UniqueViolation(map[string]any{"name": u.Name})
		}
		if id, taken := r.byName[u.Name]; taken && id != u.ID {
			return nil, change{}, schema.UniqueViolation(map[string]any{"name": u.Name})
		}
		return r.putUpstream(u)
	})
}

// UpdateUpstream applies a partial update (PATCH): records such as
// healthchecks are deep-merged, other fields replaced, null clears.
func (r *Registry) UpdateUpstream(ctx context.Context, key string, patch map[string]any) (*Upstream, error) {
	if err := CheckUpstreamKey(key); err != nil {
		return nil, err
	}
	return writeEntity(ctx, r, func() (*Upstream, change, error) {
		existing := r.lookupUpstreamLocked(key)
		if existing == nil {
			return nil, change{}, notFoundByKey(key)
		}
		UpstreamSchema.ApplyShorthands(patch)
		delete(patch, "id")
		base, err := toMap(existing)
		if err != nil {
			return nil, change{}, err
		}
		merged := UpstreamSchema.Merge(base, patch)
		m, verr := UpstreamSchema.Process(merged, schema.Update)
		if verr != nil {
			return nil, change{}, schema.SchemaViolation(verr)
		}
		m["updated_at"] = nowSeconds()
		u, err := decodeInto[Upstream](m)
		if err != nil {
			return nil, change{}, err
		}
		if id, taken := r.byName[u.Name]; taken && id != u.ID {
			return nil, change{}, schema.UniqueViolation(map[string]any{"name": u.Name})
		}
		return r.putUpstream(u)
	})
}

// DeleteUpstream deletes the upstream addressed by key and its targets. A
// missing upstream is not an error (Kong answers 204).
func (r *Registry) DeleteUpstream(ctx context.Context, key string) error {
	if err := CheckUpstreamKey(key); err != nil {
		return err
	}
	return r.write(ctx, func() (change, error) {
		u := r.lookupUpstreamLocked(key)
		if u == nil {
			return change{}, nil
		}
		id := u.ID
		if err := r.refuseManagedLocked(UpstreamSchema.Name, id, u.Name, "delete"); err != nil {
			return change{}, err
		}
		return change{
			batch:   Batch{Delete: []RecordRef{{Kind: UpstreamSchema.Name, ID: id}}},
			install: func() { r.removeUpstreamLocked(id) },
		}, nil
	})
}

// withdrawPoolLocked unpublishes the pool of an upstream name no upstream
// has any more and retires its addresses' states (see
// addressStates.retire). r.mu must be held.
func (r *Registry) withdrawPoolLocked(name string) {
	if p, ok := r.pools.LoadAndDelete(name); ok {
		r.states.retire(name, p.(*Pool))
	}
}

// removeUpstreamLocked drops the upstream with the given id, its targets
// and its pool. r.mu must be held.
func (r *Registry) removeUpstreamLocked(id string) {
	if u := r.upstreams[id]; u != nil && r.byName[u.Name] == id {
		delete(r.byName, u.Name)
		r.withdrawPoolLocked(u.Name)
	}
	delete(r.upstreams, id)
	delete(r.targets, id)
	r.version.Add(1)
	r.forgetUpstreamLocked(id)
}

// forgetUpstreamLocked ends what runs and is kept for an upstream that is
// gone: its probes, its hostname watchers and its round-robin counter. Its
// address states are kept by name (see addressStates.retire). r.mu must be
// held.
func (r *Registry) forgetUpstreamLocked(id string) {
	r.checker.Stop(id)
	r.hosts.stop(id)
	balance.Forget(id)
}

// putUpstream returns the change that stores u and publishes its pool.
func (r *Registry) putUpstream(u *Upstream) (*Upstream, change, error) {
	if err := r.refuseManagedLocked(UpstreamSchema.Name, u.ID, u.Name, "update"); err != nil {
		return nil, change{}, err
	}
	rec, err := upstreamRecord(u)
	if err != nil {
		return nil, change{}, err
	}
	return u, change{batch: Batch{Put: []Record{rec}}, install: func() {
		if old := r.upstreams[u.ID]; old != nil && old.Name != u.Name {
			delete(r.byName, old.Name)
			r.withdrawPoolLocked(old.Name)
		}
		r.upstreams[u.ID] = u
		r.byName[u.Name] = u.ID
		r.version.Add(1)
		r.publishLocked(u.ID)
	}}, nil
}

// CreateTarget inserts a target into the upstream addressed by upstreamKey
// (POST). The target string is normalised first; an existing target of the
// same upstream is a 409.
func (r *Registry) CreateTarget(ctx context.Context, upstreamKey string, in map[string]any) (*Target, error) {
	created, err := r.CreateTargets(ctx, upstreamKey, []map[string]any{in})
	if err != nil {
		return nil, err
	}
	return created[0], nil
}

// CreateTargets inserts several targets into one upstream as CreateTarget
// would, all or none, in one store transaction and one pool rebuild: what
// a config declaring many targets costs once instead of once per target.
// Two inputs with the same target (or the same given id) are a conflict.
func (r *Registry) CreateTargets(ctx context.Context, upstreamKey string, ins []map[string]any) ([]*Target, error) {
	defer r.hosts.awaitFirstLookups()
	var batch []*Target
	err := r.write(ctx, func() (change, error) {
		u := r.lookupUpstreamLocked(upstreamKey)
		if u == nil {
			return change{}, schema.NotFoundPlain()
		}
		if err := r.refuseSourcedCreate(u); err != nil {
			return change{}, err
		}
		now := r.nextTargetTimeLocked(u.ID)
		batch = make([]*Target, 0, len(ins))
		recs := make([]Record, 0, len(ins))
		inBatch := make(map[string]bool, 2*len(ins)) // ids and targets of the batch
		for _, in := range ins {
			t, clientID, err := r.newTargetLocked(u, in, now)
			if err != nil {
				return change{}, err
			}
			if clientID && inBatch["id "+t.ID] {
				return change{}, primaryKeyViolation(t.ID)
			}
			if inBatch["target "+t.Target] {
				return change{}, targetConflict(t)
			}
			inBatch["id "+t.ID], inBatch["target "+t.Target] = true, true
			rec, err := targetRecord(t)
			if err != nil {
				return change{}, err
			}
			batch, recs = append(batch, t), append(recs, rec)
			now = math.Round(now*1000+1) / 1000 // keep creation order within the batch
		}
		return change{batch: Batch{Put: recs}, install: func() {
			for _, t := range batch {
				r.keepTargetLocked(t)
			}
			r.version.Add(1)
			r.publishLocked(u.ID)
		}}, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Target, len(batch))
	for i, t := range batch {
		out[i] = cloneOf(t)
	}
	return out, nil
}

// nextTargetTimeLocked is the created_at of a target created now in the
// upstream: targets list newest first by created_at (milliseconds), so it
// is kept strictly increasing within an upstream, and two targets created
// in the same millisecond still list in creation order.
func (r *Registry) nextTargetTimeLocked(upstreamID string) float64 {
	now := nowMillis()
	for _, t := range r.targets[upstreamID] {
		if t.CreatedAt >= now {
			now = math.Round(t.CreatedAt*1000+1) / 1000
		}
	}
	return now
}

// newTargetLocked validates a new target of upstream u (normalising the
// target string) and checks it against the registry: a given id already
// used anywhere is a primary key violation, a target already in u a 409.
// clientID tells whether the id was given rather than generated.
func (r *Registry) newTargetLocked(u *Upstream, in map[string]any, now float64) (t *Target, clientID bool, err error) {
	in["upstream"] = map[string]any{"id": u.ID}
	if s, ok := in["target"].(string); ok {
		if norm, ok := schema.NormalizeTarget(s); ok {
			in["target"] = norm
		}
	}
	m, verr := TargetSchema.Process(in, schema.Insert)
	if verr != nil {
		return nil, false, schema.SchemaViolation(verr)
	}
	clientID = m["id"] != nil // ids generated here are fresh v4 UUIDs: no need to scan for them
	fillAuto(m, now, false)
	if t, err = decodeInto[Target](m); err != nil {
		return nil, false, err
	}
	if clientID && r.targetIDTakenLocked(t.ID) {
		return nil, false, primaryKeyViolation(t.ID)
	}
	if r.targetByAddressLocked(u.ID, t.Target) != nil {
		return nil, false, targetConflict(t)
	}
	return t, clientID, nil
}

// UpdateTarget applies a partial update to an existing target (PATCH, and
// PUT, which Kong treats the same way for targets). A missing target is a
// 404: PUT never creates a target.
func (r *Registry) UpdateTarget(ctx context.Context, upstreamKey, targetKey string, patch map[string]any) (*Target, error) {
	defer r.hosts.awaitFirstLookups()
	return writeEntity(ctx, r, func() (*Target, change, error) {
		u := r.lookupUpstreamLocked(upstreamKey)
		if u == nil {
			return nil, change{}, schema.NotFoundPlain()
		}
		existing := r.lookupTargetLocked(u.ID, targetKey)
		if existing == nil {
			return nil, change{}, schema.NotFoundPlain()
		}
		if err := r.refuseSourcedWrite(u, existing, "update"); err != nil {
			return nil, change{}, err
		}
		delete(patch, "id")
		patch["upstream"] = map[string]any{"id": u.ID}
		if s, ok := patch["target"].(string); ok {
			if norm, ok := schema.NormalizeTarget(s); ok {
				patch["target"] = norm
			}
		}
		base, err := toMap(existing)
		if err != nil {
			return nil, change{}, err
		}
		m, verr := TargetSchema.Process(TargetSchema.Merge(base, patch), schema.Update)
		if verr != nil {
			return nil, change{}, schema.SchemaViolation(verr)
		}
		m["updated_at"] = nowMillis()
		t, err := decodeInto[Target](m)
		if err != nil {
			return nil, change{}, err
		}
		if other := r.targetByAddressLocked(u.ID, t.Target); other != nil && other.ID != t.ID {
			return nil, change{}, targetConflict(t)
		}
		return r.putTarget(t)
	})
}

// DeleteTarget deletes a target; a missing one is a 404 (Kong's exception
// to the DELETE-is-idempotent rule).
func (r *Registry) DeleteTarget(ctx context.Context, upstreamKey, targetKey string) error {
	return r.write(ctx, func() (change, error) {
		u := r.lookupUpstreamLocked(upstreamKey)
		if u == nil {
			return change{}, schema.NotFoundPlain()
		}
		t := r.lookupTargetLocked(u.ID, targetKey)
		if t == nil {
			return change{}, schema.NotFoundPlain()
		}
		if err := r.refuseSourcedWrite(u, t, "remove"); err != nil {
			return change{}, err
		}
		return change{batch: Batch{Delete: []RecordRef{{Kind: TargetSchema.Name, ID: t.ID}}}, install: func() {
			delete(r.targets[t.Upstream.ID], t.ID)
			r.version.Add(1)
			r.publishLocked(t.Upstream.ID)
		}}, nil
	})
}

// putTarget returns the change that stores t and republishes its
// upstream's pool.
func (r *Registry) putTarget(t *Target) (*Target, change, error) {
	rec, err := targetRecord(t)
	if err != nil {
		return nil, change{}, err
	}
	return t, change{batch: Batch{Put: []Record{rec}}, install: func() {
		r.keepTargetLocked(t)
		r.version.Add(1)
		r.publishLocked(t.Upstream.ID)
	}}, nil
}

// keepTargetLocked puts a stored target in memory; the caller publishes.
func (r *Registry) keepTargetLocked(t *Target) {
	if u := r.upstreams[t.Upstream.ID]; u != nil {
		t.Upstream.ID = u.ID // share the string: one copy per upstream, not per target
	}
	if r.targets[t.Upstream.ID] == nil {
		r.targets[t.Upstream.ID] = map[string]*Target{}
	}
	r.targets[t.Upstream.ID][t.ID] = t
}

// targetIDTakenLocked reports whether any upstream has a target with this
// id. It costs one map lookup per upstream.
func (r *Registry) targetIDTakenLocked(id string) bool {
	for _, m := range r.targets {
		if _, ok := m[id]; ok {
			return true
		}
	}
	return false
}

// ---- helpers ----

// CheckUpstreamKey rejects URL keys that are neither a UUID nor a valid
// upstream name (Kong's "invalid unique name", code 10).
func CheckUpstreamKey(key string) error {
	if schema.IsUUID(key) {
		return nil
	}
	if msg := schema.CheckUpstreamName(key); msg != "" {
		return schema.InvalidUnique("name", msg)
	}
	return nil
}

func notFoundByKey(key string) error {
	if schema.IsUUID(key) {
		return schema.NotFound(map[string]any{"id": key}, true)
	}
	return schema.NotFound(map[string]any{"name": key}, false)
}

func primaryKeyViolation(id string) error {
	return &schema.Error{Status: http.StatusConflict, Code: schema.CodePrimaryKeyViolation, Name: "primary key violation",
		Message: "primary key violation on key '" + schema.LuaTable(map[string]any{"id": id}) + "'",
		Fields:  map[string]any{"id": id}}
}

func targetConflict(t *Target) error {
	return schema.UniqueViolation(map[string]any{"target": t.Target, "upstream": map[string]any{"id": t.Upstream.ID}})
}

// fillAuto sets a fresh id and the timestamps when absent.
func fillAuto(m map[string]any, now float64, integerSeconds bool) {
	if m["id"] == nil {
		m["id"] = uuid.NewString()
	}
	if m["created_at"] == nil {
		m["created_at"] = now
	}
	if m["updated_at"] == nil {
		m["updated_at"] = now
	}
	_ = integerSeconds
}

func nowMillis() float64 {
	return float64(time.Now().UnixMilli()) / 1000
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return fmt.Errorf("encoding entity: %w", err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		return fmt.Errorf("decoding entity: %w", err)
	}
	return nil
}

// toMap returns the JSON-shaped map of an entity.
func toMap(v any) (map[string]any, error) {
	var m map[string]any
	if err := remarshal(v, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// EntityMap returns the JSON-shaped map of an entity, as the Admin API
// renders it.
func EntityMap(v any) map[string]any {
	m, _ := toMap(v)
	return m
}

func upstreamRecord(u *Upstream) (Record, error) {
	data, err := json.Marshal(u)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: UpstreamSchema.Name, ID: u.ID, Key: u.Name, Data: data}, nil
}

func targetRecord(t *Target) (Record, error) {
	data, err := json.Marshal(t)
	if err != nil {
		return Record{}, err
	}
	return Record{Kind: TargetSchema.Name, ID: t.ID, Parent: t.Upstream.ID, Key: t.Upstream.ID + "|" + t.Target, Data: data}, nil
}

// StoreName names the kind of store behind the registry ("bolt",
// "postgres"), as reported in the Admin API's configuration.database.
func (r *Registry) StoreName() string {
	if n, ok := r.store.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "bolt"
}

// StoreReachable reports whether the store answers a read.
func (r *Registry) StoreReachable(ctx context.Context) bool {
	if p, ok := r.store.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx) == nil
	}
	return true
}
