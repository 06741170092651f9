package admin

import (
	"net/http"
	"os"
	"runtime"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// getRoot serves GET /, Kong's node information. Tools such as decK read
// "version" (a Kong 3.x semantic version) and configuration.database from
// it: we report the store in use, never "off", because writes go through
// the per-entity endpoints as with a database-backed Kong.
func getRoot(c *call) error {
	hostname, _ := os.Hostname()
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"tagline":  "Welcome to kong",
		"version":  KongVersion,
		"edition":  "community",
		"hostname": hostname,
		"node_id":  nodeID(),
		"timers":   map[string]any{"running": 0, "pending": 0},
		"plugins": map[string]any{
			"available_on_server": map[string]any{},
			"enabled_in_cluster":  []any{},
		},
		"lua_version":   "caddy-upstreams on " + runtime.Version(),
		"configuration": configuration(c),
		"pids":          map[string]any{"master": os.Getpid(), "workers": []int{os.Getpid()}},
	})
	return nil
}

// configuration is GET /'s sanitised node configuration: the keys Kong's
// clients read, from the running config (the listeners of the kong_proxy
// and kong_admin servers) and the registry (the store); nothing of
// nginx's.
func configuration(c *call) map[string]any {
	conf := listenerConfiguration()
	conf["database"] = databaseName(c.reg)
	conf["role"] = "traditional"
	conf["router_flavor"] = "traditional_compatible"
	return conf
}

// getStatus serves GET /status: store reachability and server counters.
func getStatus(c *call) error {
	unit, err := parseMemoryUnit(c.r.URL.Query())
	if err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(c.w, c.r, http.StatusOK, map[string]any{
		"database": map[string]any{"reachable": c.reg.StoreReachable(c.r.Context())},
		"server": map[string]any{
			"total_requests": 0, "connections_active": 0, "connections_accepted": 0, "connections_handled": 0,
			"connections_reading": 0, "connections_writing": 0, "connections_waiting": 0,
		},
		"memory": map[string]any{
			"workers_lua_vms":  []any{map[string]any{"http_allocated_gc": unit.format(ms.HeapAlloc), "pid": os.Getpid()}},
			"lua_shared_dicts": map[string]any{},
		},
		"registry": map[string]any{"version": c.reg.Version(), "upstreams": len(c.reg.Upstreams())},
	})
	return nil
}

func databaseName(reg *upstreams.Registry) string {
	return reg.StoreName()
}
