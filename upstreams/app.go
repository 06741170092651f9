package upstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the "upstreams" Caddy app: it owns the registry of upstreams and
// targets, opens its store, and applies the upstreams declared in config.
//
// The registry is state, not config: it lives in the store and survives
// config reloads and restarts. Every config load upserts the declared
// upstreams (by name) and their targets (by target address): declared
// fields win over runtime changes to the same entity, declared targets get
// their declared weight back, and entities that exist only at runtime
// (created through the Admin API) are left alone. Removing an upstream
// from the config does not delete it; delete it through the Admin API.
type App struct {
	// Store is the registry's store module (namespace upstreams.stores).
	// Default: {"module": "bolt"}, a bbolt file in Caddy's data directory.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=upstreams.stores inline_key=module"`

	// Resolver is the module resolving hostname targets (namespace
	// upstreams.resolvers). Default: {"module": "dns"}, the nameservers of
	// /etc/resolv.conf.
	ResolverRaw json.RawMessage `json:"resolver,omitempty" caddy:"namespace=upstreams.resolvers inline_key=module"`

	// Upstreams declared in config, in Kong's declarative shape: the
	// upstream's fields (name required, everything else defaulted as Kong
	// does) plus an optional "targets" list of {"target", "weight", "tags"},
	// or instead of targets a "source": a module of namespace
	// upstreams.sources ({"module": "kubernetes", ...}) that supplies the
	// targets. "source" is config only: the Admin API never shows it.
	Upstreams []DeclaredUpstream `json:"upstreams,omitempty"`

	// DeclarativeConfig is the path of a Kong declarative configuration
	// (kong.yaml or kong.json, _format_version "3.0") with services,
	// routes, upstreams and targets. It is validated whole when the config
	// loads and merged into the registry at every config load, in one
	// store batch: its entities replace the ones with the same id or name,
	// and entities it does not mention are left alone (POST /config on the
	// Admin API, by contrast, replaces everything).
	DeclarativeConfig string `json:"declarative_config,omitempty"`

	// Kubernetes configures the Kubernetes Ingress controller (module
	// upstreams.controllers.kubernetes; its fields, without "module"):
	// Ingresses of its class become services, routes, upstreams and
	// targets held in memory on this node, read-only in the Admin API.
	Kubernetes json.RawMessage `json:"kubernetes,omitempty"`

	registry *Registry
	kongYAML *DeclarativeConfig
	resolver targets.Resolver
	events   *health.EventSink
	poolKey  string
	declared []declaredUpstream
	sources  []configuredSource
	running  []*sourceRun
	control  Controller
	ctrlRun  *controllerRun
	logger   *zap.Logger
	ctx      caddy.Context
}

// DeclaredUpstream is an upstream object as written in config: Kong's
// upstream fields plus "targets" or "source".
type DeclaredUpstream map[string]any

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "upstreams",
		New: func() caddy.Module { return new(App) },
	}
}

// registries shares one Registry per store configuration across config
// reloads: the new app instance takes a reference before the old one
// releases its own, so the registry (and its open store) survives.
var registries = caddy.NewUsagePool()

// defaultStore is the store used when the config names none.
var defaultStore = json.RawMessage(`{"module":"bolt"}`)

// DefaultResolver is the resolver config used when the app's config names
// none: the dns module with the nameservers of /etc/resolv.conf. A program
// embedding the app may replace it before loading a config; the project's
// tests point it at a nameserver on 127.0.0.1 so that no test query leaves
// the machine.
var DefaultResolver = json.RawMessage(`{"module":"dns"}`)

// Provision validates the declared upstreams and opens (or reuses) the
// registry. It does not write to the store: declared upstreams are applied
// in Start, so `caddy validate` has no side effects beyond opening the store.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	declared, err := parseDeclared(a.Upstreams)
	if err != nil {
		return err
	}
	a.declared = declared
	if a.DeclarativeConfig != "" {
		if a.kongYAML, err = LoadDeclarativeFile(a.DeclarativeConfig); err != nil {
			return err
		}
	}
	if len(a.ResolverRaw) == 0 {
		a.ResolverRaw = DefaultResolver
	}
	mod, err := ctx.LoadModule(a, "ResolverRaw")
	if err != nil {
		return fmt.Errorf("loading the hostname resolver: %w", err)
	}
	res, ok := mod.(targets.Resolver)
	if !ok {
		return fmt.Errorf("module %T is not a hostname resolver", mod)
	}
	a.resolver = res
	for _, d := range declared {
		if d.source == nil {
			continue
		}
		cs, err := loadSource(ctx, d.name, d.source)
		if err != nil {
			return err
		}
		a.sources = append(a.sources, cs)
	}
	if len(a.Kubernetes) > 0 {
		if a.control, err = loadController(ctx, "kubernetes", a.Kubernetes); err != nil {
			return err
		}
	}

	raw := a.StoreRaw
	if len(raw) == 0 {
		raw = defaultStore
	}
	a.poolKey = string(raw)
	logger := a.logger
	val, _, err := registries.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		store, err := openStore(ctx, raw)
		if err != nil {
			return nil, err
		}
		reg, err := NewRegistry(context.Background(), store, logger.Named("registry"))
		if err != nil {
			store.Close()
			return nil, err
		}
		return reg, nil
	})
	if err != nil {
		return fmt.Errorf("opening the upstreams registry: %w", err)
	}
	a.registry = val.(*Registry)
	if err := health.RegisterMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering health metrics: %w", err)
	}
	eventsApp, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("loading the events app: %w", err)
	}
	a.events = &health.EventSink{Ctx: ctx, Events: eventsApp.(*caddyevents.App)}
	// the events app may not emit before it has started, and apps start in
	// random order: arm the sink on Caddy's "started" event, after all
	if err := a.events.Events.On("started", armEvents{registry: a.registry, sink: a.events}); err != nil {
		return fmt.Errorf("subscribing to the started event: %w", err)
	}
	return nil
}

// armEvents makes a config's events app the registry's event sink once
// every app of the config has started.
type armEvents struct {
	registry *Registry
	sink     *health.EventSink
}

// Handle implements caddyevents.Handler.
func (h armEvents) Handle(context.Context, caddy.Event) error {
	h.registry.signals.Arm(h.sink)
	return nil
}

// openStore instantiates and provisions a store module outside the config's
// module tracking: the store's lifetime is the registry's (it is closed
// when the last config using it is unloaded), not one config load's.
func openStore(ctx caddy.Context, raw json.RawMessage) (Store, error) {
	var head struct {
		Module string `json:"module"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("decoding store config: %w", err)
	}
	info, err := caddy.GetModule("upstreams.stores." + head.Module)
	if err != nil {
		return nil, fmt.Errorf("unknown store %q: %w", head.Module, err)
	}
	mod := info.New()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "module")
	body, _ := json.Marshal(fields)
	if err := caddy.StrictUnmarshalJSON(body, mod); err != nil {
		return nil, fmt.Errorf("decoding %s store config: %w", head.Module, err)
	}
	if p, ok := mod.(caddy.Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return nil, err
		}
	}
	if v, ok := mod.(caddy.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	store, ok := mod.(Store)
	if !ok {
		return nil, fmt.Errorf("module %s is not an upstreams store", info.ID)
	}
	return store, nil
}

// Start applies the declared upstreams, starts their target sources and
// makes this app's registry the one the Admin API serves.
func (a *App) Start() error {
	a.registry.SetResolver(a.resolver)
	if err := a.registry.ApplyDeclared(context.Background(), a.declared); err != nil {
		return fmt.Errorf("applying declared upstreams: %w", err)
	}
	if a.kongYAML != nil {
		if err := a.registry.MergeDeclarative(context.Background(), a.kongYAML); err != nil {
			return fmt.Errorf("applying declarative_config %s: %w", a.DeclarativeConfig, err)
		}
	}
	for _, cs := range a.sources {
		a.running = append(a.running, a.registry.startSource(cs, a.logger.Named("source")))
	}
	if a.control != nil {
		a.ctrlRun = a.registry.startController(a.control, a.logger.Named("controller"))
	}
	active.Store(a.registry)
	a.logger.Info("upstreams registry ready",
		zap.Int("upstreams", len(a.registry.Upstreams())),
		zap.Int("declared", len(a.declared)))
	return nil
}

// Stop stops this config's target sources; the registry itself outlives
// config reloads. A source's targets stay when the next config (started
// before this one stops) declares a source for the same upstream.
func (a *App) Stop() error {
	for _, run := range a.running {
		run.stop()
	}
	a.running = nil
	if a.ctrlRun != nil {
		a.ctrlRun.stop()
		a.ctrlRun = nil
	}
	return nil
}

// Cleanup releases this config's reference to the registry; the last
// reference closes the store.
func (a *App) Cleanup() error {
	if a.registry == nil {
		return nil
	}
	a.registry.signals.Disarm(a.events)
	deleted, err := registries.Delete(a.poolKey)
	if deleted {
		active.CompareAndSwap(a.registry, nil)
	}
	return err
}

// Registry returns the app's registry.
func (a *App) Registry() *Registry { return a.registry }

// active is the registry of the running config, for the Admin API (whose
// routers are created without config and outlive failed reloads).
var active atomic.Pointer[Registry]

// ActiveRegistry returns the registry of the running config, or nil when
// no upstreams app is running.
func ActiveRegistry() *Registry { return active.Load() }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
