package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// statsInterval is how often a stats stream sends a snapshot.
const statsInterval = time.Second

// statsStreamLifetime bounds one stats stream: the server ends it and the
// browser's EventSource reconnects (after the retry the stream announced),
// so no stream outlives a config reload or a listener's shutdown by more
// than this even where nothing closes it earlier.
const statsStreamLifetime = time.Minute

// getUpstreamStats serves GET /upstreams/{u}/stats: the upstream's targets,
// each with its weight, health and addresses, and each address with its
// traffic counters since it appeared (requests, errors, summed latency) and
// the requests in flight. The counters are cumulative: a client derives
// rates from two snapshots and their "time". With Accept: text/event-stream
// it is a Server-Sent Events stream of such snapshots, one a second.
// Counters are node-local, as health is; node_id says which node.
func getUpstreamStats(c *call) error {
	snapshot, err := upstreamStats(c.reg, c.params[0])
	if err != nil {
		return err
	}
	if c.r.Method != http.MethodGet || !strings.Contains(c.r.Header.Get("Accept"), "text/event-stream") {
		writeJSON(c.w, c.r, http.StatusOK, snapshot)
		return nil
	}
	c.api.streams.serve(c.w, c.r, snapshot, func() (any, error) {
		reg := upstreams.ActiveRegistry()
		if reg == nil {
			return nil, schema.Plain(http.StatusServiceUnavailable, "the upstreams app is not running")
		}
		return upstreamStats(reg, c.params[0])
	})
	return nil
}

// upstreamStats builds one stats snapshot of an upstream.
func upstreamStats(reg *upstreams.Registry, key string) (map[string]any, error) {
	u, ok := reg.Upstream(key)
	if !ok {
		return nil, schema.NotFoundPlain()
	}
	list, _ := reg.Targets(key)
	pool := reg.Pool(u.Name)
	enabled := u.Healthchecks.Enabled()
	targets := make([]any, len(list))
	for i := range list {
		t := &list[i]
		addrs := []map[string]any{}
		if pool != nil {
			for i := range pool.Addresses {
				a := &pool.Addresses[i]
				if a.Target.ID != t.ID {
					continue
				}
				traffic := a.State.Traffic()
				addrs = append(addrs, map[string]any{
					"ip": a.Host, "port": a.Port, "weight": a.Weight, "health": addressHealthValue(a, enabled),
					"requests": traffic.Requests, "errors": traffic.Errors,
					"latency_seconds": traffic.Latency.Seconds(), "in_flight": a.State.InFlight.Load(),
				})
			}
		}
		host, _, _ := schema.ParseTarget(t.Target)
		_, dnsFailed := dnsSource(pool, host)
		targets[i] = map[string]any{
			"id": t.ID, "target": t.Target, "weight": t.Weight, "tags": t.Tags,
			"health": targetHealth(addrs, dnsFailed), "addresses": addrs,
		}
	}
	return map[string]any{
		"data": map[string]any{
			"id": u.ID, "name": u.Name, "algorithm": u.Algorithm, "healthchecks_enabled": enabled,
			"time": float64(time.Now().UnixMilli()) / 1000, "targets": targets,
		},
		"node_id": nodeID(),
	}, nil
}

// writeEvent writes one Server-Sent Event holding v as JSON.
func writeEvent(w http.ResponseWriter, event string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if event != "" {
		if _, err := w.Write([]byte("event: " + event + "\n")); err != nil {
			return err
		}
	}
	if _, err := w.Write(append(append([]byte("data: "), body...), '\n', '\n')); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}
