package upstreams

import (
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"

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

// registerHealthMetrics registers the health collectors with a config's
// metrics registry.
func registerHealthMetrics(reg *prometheus.Registry) error {
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

// eventSink emits Caddy events from the running config's context.
type eventSink struct {
	ctx    caddy.Context
	events *caddyevents.App
}

// healthSignals reports health observations and transitions: logs, metrics
// and Caddy events ("healthy" and "unhealthy", the names reverse_proxy's
// own health checker emits, with host, upstream and target in the data).
type healthSignals struct {
	logger *zap.Logger
	sink   atomic.Pointer[eventSink]
}

func (s *healthSignals) probed(u *Upstream, a *Address, r health.Report) {
	initHealthMetrics()
	probeResults.WithLabelValues(u.Name, a.Dial, r.String()).Inc()
}

func (s *healthSignals) observedPassively(u *Upstream, a *Address, r health.Report) {
	initHealthMetrics()
	passiveResults.WithLabelValues(u.Name, a.Dial, r.String()).Inc()
}

func (s *healthSignals) watching(u *Upstream, a *Address) {
	initHealthMetrics()
	targetHealthy.WithLabelValues(u.Name, a.Target.Target, a.Dial).Set(boolGauge(a.State.Healthy()))
}

func (s *healthSignals) unwatched(u *Upstream, a *Address) {
	initHealthMetrics()
	targetHealthy.DeleteLabelValues(u.Name, a.Target.Target, a.Dial)
}

func (s *healthSignals) changed(u *Upstream, a *Address, healthy bool, by string) {
	initHealthMetrics()
	targetHealthy.WithLabelValues(u.Name, a.Target.Target, a.Dial).Set(boolGauge(healthy))
	s.logger.Info("target health changed",
		zap.String("upstream", u.Name), zap.String("target", a.Target.Target),
		zap.String("address", a.Dial), zap.Bool("healthy", healthy), zap.String("by", by))
	if sink := s.sink.Load(); sink != nil {
		name := "unhealthy"
		if healthy {
			name = "healthy"
		}
		sink.events.Emit(sink.ctx, name, map[string]any{
			"host": a.Dial, "upstream": u.Name, "target": a.Target.Target, "by": by,
		})
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
