// Package caddyupstreams brings Kong Gateway's Upstreams and Targets to
// Caddy. Importing it (or building Caddy with
// `xcaddy build --with github.com/caddy-upstreams/caddy-upstreams`) plugs in
// every module of the project: the "upstreams" app and its stores, the
// reverse_proxy source and selection policy, the kong_proxy handler, the
// kong_manager page, and the Caddyfile support.
package caddyupstreams

import (
	_ "github.com/caddy-upstreams/caddy-upstreams/admin"
	_ "github.com/caddy-upstreams/caddy-upstreams/caddyfile"
	_ "github.com/caddy-upstreams/caddy-upstreams/manager"
	_ "github.com/caddy-upstreams/caddy-upstreams/targets/dns"
	_ "github.com/caddy-upstreams/caddy-upstreams/targets/kubernetes"
	_ "github.com/caddy-upstreams/caddy-upstreams/targets/kubernetes/ingress"
	_ "github.com/caddy-upstreams/caddy-upstreams/upstreams"
	_ "github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
	_ "github.com/caddy-upstreams/caddy-upstreams/upstreams/kongproxy"
	_ "github.com/caddy-upstreams/caddy-upstreams/upstreams/pgstore"
	_ "github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)
