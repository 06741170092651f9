package admin

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// kongProxyModule is the module ID of the handler that proxies by Kong
// routes; the servers that have it are Kong's proxy listeners.
const kongProxyModule = "http.handlers.kong_proxy"

// kongListenerFlags are the boolean flags Kong renders on every parsed
// http listener (kong/conf_loader/listeners.lua), in its order; Caddy's
// servers set ssl and http2 and none of the nginx-specific others.
var kongListenerFlags = []string{
	"ssl", "http2", "proxy_protocol", "deferred", "bind", "reuseport", "backlog=%d+",
	"ipv6only=on", "ipv6only=off", "so_keepalive=on", "so_keepalive=off", "so_keepalive=%w*:%w*:%d*",
}

// kongListeners are the Admin API's and the proxy's listen addresses in the
// running Caddy config, rendered as Kong's *_listen and *_listeners.
type kongListeners struct {
	proxy, admin []map[string]any
}

// runningListeners reads the running config's HTTP servers: a server
// whose routes (subroutes included) have kong_proxy is a proxy listener,
// one that has kong_admin an Admin API listener.
func runningListeners() kongListeners {
	var ls kongListeners
	app, err := caddy.ActiveContext().AppIfConfigured("http")
	if err != nil {
		return ls
	}
	httpApp, ok := app.(*caddyhttp.App)
	if !ok {
		return ls
	}
	names := make([]string, 0, len(httpApp.Servers))
	for name := range httpApp.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		srv := httpApp.Servers[name]
		proxy, admin := serverRoles(srv.Routes)
		if proxy {
			ls.proxy = append(ls.proxy, kongServerListeners(srv)...)
		}
		if admin {
			ls.admin = append(ls.admin, kongServerListeners(srv)...)
		}
	}
	return ls
}

// serverRoles reports whether routes (recursively) hold kong_proxy and
// kong_admin handlers.
func serverRoles(routes caddyhttp.RouteList) (proxy, admin bool) {
	for _, r := range routes {
		for _, h := range r.Handlers {
			switch h := h.(type) {
			case *Handler:
				admin = true
			case *caddyhttp.Subroute:
				p, a := serverRoles(h.Routes)
				proxy, admin = proxy || p, admin || a
			case caddy.Module:
				if h.CaddyModule().ID == kongProxyModule {
					proxy = true
				}
			}
		}
	}
	return proxy, admin
}

// kongServerListeners renders each address (each port of a range) a server
// listens on as a Kong listener: ip, port, the listener string and the
// flags, ssl when the server has TLS connection policies, http2 when it
// speaks HTTP/2 (over TLS, or h2c).
func kongServerListeners(srv *caddyhttp.Server) []map[string]any {
	ssl := len(srv.TLSConnPolicies) > 0
	http2 := ssl && slices.Contains(srv.Protocols, "h2") || slices.Contains(srv.Protocols, "h2c")
	var out []map[string]any
	for _, l := range srv.Listen {
		na, err := caddy.ParseNetworkAddress(l)
		if err != nil || na.IsUnixNetwork() || na.IsFdNetwork() {
			continue
		}
		ip := na.Host
		if ip == "" {
			ip = "0.0.0.0"
		} else if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
			ip = "[" + a.String() + "]"
		}
		for port := na.StartPort; port <= na.EndPort; port++ {
			m := map[string]any{}
			for _, f := range kongListenerFlags {
				m[f] = false
			}
			m["ssl"], m["http2"] = ssl, http2
			m["ip"], m["port"] = ip, port
			listener := ip + ":" + strconv.FormatUint(uint64(port), 10)
			if ssl {
				listener += " ssl"
			}
			m["listener"] = listener
			out = append(out, m)
		}
	}
	return out
}

// listen renders parsed listeners as Kong's *_listen setting: one
// "ip:port [http2] [ssl]" entry each, or ["off"] when there are none.
func listen(list []map[string]any) []string {
	if len(list) == 0 {
		return []string{"off"}
	}
	out := make([]string, len(list))
	for i, m := range list {
		s := m["ip"].(string) + ":" + strconv.FormatUint(uint64(m["port"].(uint)), 10)
		if m["http2"] == true {
			s += " http2"
		}
		if m["ssl"] == true {
			s += " ssl"
		}
		out[i] = s
	}
	return out
}

// sslEnabled is Kong's proxy_ssl_enabled / admin_ssl_enabled: whether any
// listener has ssl.
func sslEnabled(list []map[string]any) bool {
	for _, m := range list {
		if m["ssl"] == true {
			return true
		}
	}
	return false
}

// listenerConfiguration is the part of GET /'s configuration that
// describes the listeners, Kong's keys with our servers' values.
func listenerConfiguration() map[string]any {
	ls := runningListeners()
	nonNil := func(l []map[string]any) []map[string]any {
		if l == nil {
			return []map[string]any{}
		}
		return l
	}
	return map[string]any{
		"proxy_listen":      listen(ls.proxy),
		"proxy_listeners":   nonNil(ls.proxy),
		"proxy_ssl_enabled": sslEnabled(ls.proxy),
		"admin_listen":      listen(ls.admin),
		"admin_listeners":   nonNil(ls.admin),
		"admin_ssl_enabled": sslEnabled(ls.admin),
	}
}
