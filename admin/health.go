package admin

import (
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Kong's health values.
const (
	healthHealthy   = "HEALTHY"
	healthUnhealthy = "UNHEALTHY"
	healthOff       = "HEALTHCHECKS_OFF"
	healthDNSError  = "DNS_ERROR"
)

// getUpstreamHealth serves GET /upstreams/{u}/health: the targets with
// their health on this node, or with ?balancer_health=1 the upstream's
// own health. Health is node-local, as in Kong; node_id says which node.
func getUpstreamHealth(c *call) error {
	u, ok := c.reg.Upstream(c.params[0])
	if !ok {
		return schema.NotFoundPlain()
	}
	pool := c.reg.Pool(u.Name)
	enabled := u.Healthchecks.Enabled()
	nodeID := nodeID()
	targets, _ := c.reg.Targets(c.params[0])
	hosts := make([]map[string]any, 0, len(targets))
	total, available := 0, 0
	items := make([]any, len(targets))
	for i := range targets {
		t := &targets[i]
		addrs, tw, ta := addressHealth(pool, t, enabled)
		total, available = total+tw, available+ta
		host, port, _ := schema.ParseTarget(t.Target)
		dns, dnsFailed := dnsSource(pool, host)
		data := map[string]any{
			"host": host, "port": port, "dns": dns, "nodeWeight": t.Weight,
			"weight":    map[string]any{"total": tw, "available": ta, "unavailable": tw - ta},
			"addresses": addrs,
		}
		entity := upstreams.EntityMap(t)
		entity["health"] = targetHealth(addrs, dnsFailed)
		entity["data"] = data
		items[len(targets)-1-i] = entity
		hosts = append(hosts, map[string]any{
			"host": host, "port": port, "dns": dns, "nodeWeight": t.Weight,
			"weight": data["weight"], "addresses": booleanAddresses(addrs),
		})
	}
	if c.r.URL.Query().Get("balancer_health") == "1" {
		healthy := total > 0 && float64(available)/float64(total)*100 > u.Healthchecks.Threshold
		bh := healthUnhealthy
		if healthy {
			bh = healthHealthy
		}
		h := bh
		if !enabled {
			h = healthOff
		}
		writeJSON(c.w, c.r, http.StatusOK, map[string]any{
			"data": map[string]any{"id": u.ID, "health": h, "balancer_health": bh, "details": map[string]any{
				"healthy": healthy,
				"weight":  map[string]any{"total": total, "available": available, "unavailable": total - available},
				"hosts":   hosts,
			}},
			"next": nil, "node_id": nodeID,
		})
		return nil
	}
	page, err := parsePage(c.r, false)
	if err != nil {
		return err
	}
	return page.writeByIndexWith(c, "/upstreams/"+c.params[0]+"/health", items, map[string]any{"node_id": nodeID})
}

// addressHealth lists a target's addresses in Kong's shape and sums their
// total and available weight.
func addressHealth(pool *upstreams.Pool, t *upstreams.Target, enabled bool) (addrs []map[string]any, total, available int) {
	addrs = []map[string]any{}
	if pool == nil {
		return addrs, 0, 0
	}
	for i := range pool.Addresses {
		a := &pool.Addresses[i]
		if a.Target.ID != t.ID {
			continue
		}
		h := addressHealthValue(a, enabled)
		total += a.Weight
		if a.Available() {
			available += a.Weight
		}
		addrs = append(addrs, map[string]any{"ip": a.HealthName(), "port": a.Port, "weight": a.Weight, "health": h})
	}
	return addrs, total, available
}

// addressHealthValue is an address's health in Kong's words: checks off
// (or weight 0, which no check looks at) is HEALTHCHECKS_OFF.
func addressHealthValue(a *upstreams.Address, enabled bool) string {
	if !enabled || a.Weight == 0 {
		return healthOff
	}
	if a.State.Healthy() {
		return healthHealthy
	}
	return healthUnhealthy
}

// targetHealth is HEALTHY if any address is, else UNHEALTHY if any is,
// else HEALTHCHECKS_OFF; a target without addresses, or whose latest DNS
// lookup failed (its last good addresses still take traffic), is a
// DNS_ERROR.
func targetHealth(addrs []map[string]any, dnsFailed bool) string {
	if len(addrs) == 0 || dnsFailed {
		return healthDNSError
	}
	result := healthOff
	for _, a := range addrs {
		switch a["health"] {
		case healthHealthy:
			return healthHealthy
		case healthUnhealthy:
			result = healthUnhealthy
		}
	}
	return result
}

func booleanAddresses(addrs []map[string]any) []map[string]any {
	out := make([]map[string]any, len(addrs))
	for i, a := range addrs {
		out[i] = map[string]any{"ip": a["ip"], "port": a["port"], "weight": a["weight"], "healthy": a["health"] != healthUnhealthy}
	}
	return out
}

// dnsSource is a target host's data.dns (Kong's get_dns_source): "A" or
// "AAAA" for an IP, the hostname's last record type or lookup error, or
// "unknown"; failed reports that the latest lookup failed.
func dnsSource(pool *upstreams.Pool, host string) (source string, failed bool) {
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Is4() {
			return targets.RecordA, false
		}
		return targets.RecordAAAA, false
	}
	var hr *upstreams.HostResolution
	if pool != nil {
		hr = pool.Hosts[host]
	}
	if hr == nil {
		return "unknown", false
	}
	return hr.DNSSource(), hr.Err != nil
}

// setTargetHealth serves PUT (and POST) .../targets/{t}[/{address}]/healthy|unhealthy:
// it forces the state of the target's addresses on every node sharing the
// store, until health checks change it or Caddy restarts (it is not
// persisted), as in Kong, which broadcasts the call as a cluster event.
func setTargetHealth(healthy bool) handlerFunc {
	return func(c *call) error {
		u, ok := c.reg.Upstream(c.params[0])
		if !ok {
			return schema.NotFoundPlain()
		}
		t, ok := c.reg.Target(c.params[0], c.params[1])
		if !ok {
			return schema.NotFoundPlain()
		}
		if !u.Healthchecks.Enabled() {
			return schema.Plain(http.StatusBadRequest, "no healthchecker found for "+u.Name)
		}
		if c.reg.Pool(u.Name) == nil {
			return schema.Plain(http.StatusBadRequest, "Upstream "+u.Name+" has no balancer")
		}
		var onlyHost string
		onlyPort := schema.DefaultTargetPort
		if len(c.params) == 3 {
			host, port, ok := schema.ParseTarget(c.params[2])
			if !ok {
				return schema.NotFoundPlain()
			}
			onlyHost, onlyPort = host, port
		}
		found, err := c.reg.SetTargetHealth(c.r.Context(), u.Name, t.ID, onlyHost, onlyPort, healthy)
		if err != nil {
			return err
		}
		if !found {
			return schema.NotFoundPlain()
		}
		noContent(c.w)
		return nil
	}
}

func nodeID() string {
	id, err := caddy.InstanceID()
	if err != nil {
		return ""
	}
	return id.String()
}
