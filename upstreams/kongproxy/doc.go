// Package kongproxy is the kong_proxy HTTP handler: it routes requests by
// the registry's Kong routes and proxies them to the routes' services, as
// Kong's proxy does.
//
//	:8000 {
//		kong_proxy
//	}
//
// A matched request has its path rewritten (strip_path, path_handling,
// the service's path) and its Host set (preserve_host, else the upstream's
// host_header, else the target's host), and is proxied by Caddy's own
// reverse_proxy, provisioned per service: through the registry source and
// selection policy when the service's host names a registry upstream
// (balancing, health checks, retries on other targets), else to the
// service's host:port. An unmatched request gets Kong's 404.
package kongproxy
