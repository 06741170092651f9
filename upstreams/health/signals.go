package health

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Health metrics, created once and registered with the metrics registry
// of every config load (Caddy makes a new registry per load).
var (
	healthMetricsOnce sync.Once
	targetHealthy     *prometheus.GaugeVec
	probeResults      *prometheus.CounterVec
	passiveResults    *prometheus.CounterVec
)

func initHealthMetrics() {
	healthMetricsOnce.Do(func() {
		targetHealthy = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "caddy", Subsystem: "upstreams", Name: "target_healthy",
			Help: "1 when the address of a registry upstream's target is healthy, 0 when not (active checks on).",
		}, []string{"upstream", "target", "address"})
		probeResults = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "upstreams", Name: "health_probes_total",
			Help: "Active health probes by result: success, http_failure, tcp_failure, timeout, ignored.",
		}, []string{"upstream", "address", "result"})
		passiveResults = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "upstreams", Name: "passive_results_total",
			Help: "Proxied round trips counted by passive health checks, by result: success, http_failure, tcp_failure, timeout, ignored.",
		}, []string{"upstream", "address", "result"})
	})
}

// RegisterMetrics registers the health collectors with a config's
// metrics registry.
func RegisterMetrics(reg *prometheus.Registry) error {
	initHealthMetrics()
	for _, c := range []prometheus.Collector{targetHealthy, probeResults, passiveResults} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// EventSink emits Caddy events from the running config's context.
type EventSink struct {
	Ctx    caddy.Context
	Events *caddyevents.App
}

// Labels name an address in metrics, logs and events.
type Labels struct {
	// Upstream is the upstream's name.
	Upstream string
	// Target is the target's host:port as configured.
	Target string
	// Dial is the address dialled.
	Dial string
}

// Signals reports health observations and transitions: logs, metrics
// and Caddy events ("healthy" and "unhealthy", the names reverse_proxy's
// own health checker emits, with host, upstream and target in the data).
type Signals struct {
	logger *zap.Logger
	sink   atomic.Pointer[EventSink]
}

// NewSignals returns signals that log to logger and emit no event until
// Arm.
func NewSignals(logger *zap.Logger) *Signals { return &Signals{logger: logger} }

// Arm makes sink the destination of health events.
func (s *Signals) Arm(sink *EventSink) { s.sink.Store(sink) }

// Disarm stops emitting events to sink, if it is still the destination.
func (s *Signals) Disarm(sink *EventSink) { s.sink.CompareAndSwap(sink, nil) }

// Probed counts an active probe's result.
func (s *Signals) Probed(l Labels, r Report) {
	initHealthMetrics()
	probeResults.WithLabelValues(l.Upstream, l.Dial, r.String()).Inc()
}

// ObservedPassively counts a proxied round trip's result.
func (s *Signals) ObservedPassively(l Labels, r Report) {
	initHealthMetrics()
	passiveResults.WithLabelValues(l.Upstream, l.Dial, r.String()).Inc()
}

// Watching exports the health of an address that active checks watch.
func (s *Signals) Watching(l Labels, healthy bool) {
	initHealthMetrics()
	targetHealthy.WithLabelValues(l.Upstream, l.Target, l.Dial).Set(boolGauge(healthy))
}

// Unwatched drops an address no longer watched from the metrics.
func (s *Signals) Unwatched(l Labels) {
	initHealthMetrics()
	targetHealthy.DeleteLabelValues(l.Upstream, l.Target, l.Dial)
}

// Changed reports a transition of an address's health, made by "by"
// (active check, passive check, manual): a metric, a log line and an event.
func (s *Signals) Changed(l Labels, healthy bool, by string) {
	initHealthMetrics()
	targetHealthy.WithLabelValues(l.Upstream, l.Target, l.Dial).Set(boolGauge(healthy))
	s.logger.Info("target health changed",
		zap.String("upstream", l.Upstream), zap.String("target", l.Target),
		zap.String("address", l.Dial), zap.Bool("healthy", healthy), zap.String("by", by))
	if sink := s.sink.Load(); sink != nil {
		name := "unhealthy"
		if healthy {
			name = "healthy"
		}
		sink.Events.Emit(sink.Ctx, name, map[string]any{
			"host": l.Dial, "upstream": l.Upstream, "target": l.Target, "by": by,
		})
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
