package upstreams

// caddyAlternatives names, for each Kong entity kind this gateway does not
// have, the Caddy directives that do that kind's job. Kinds missing here
// have no Caddy counterpart to point at.
var caddyAlternatives = map[string]string{
	"plugins":         "Caddy handler directives placed before kong_proxy or reverse_proxy do plugins' jobs (basic_auth or forward_auth for authentication, header and request_header for transformations, log, metrics, request_body, respond)",
	"consumers":       "authenticate clients with Caddy's basic_auth or forward_auth directive (hash_on consumer reads the authenticated user id)",
	"consumer_groups": "authenticate clients with Caddy's basic_auth or forward_auth directive",
	"certificates":    "Caddy's tls directive and automatic HTTPS manage certificates",
	"snis":            "Caddy's tls directive and automatic HTTPS manage certificates and their server names",
	"ca_certificates": "trust CAs with the tls_trust_pool option of reverse_proxy's http transport, or client_auth in Caddy's tls directive",
	"vaults":          "Caddy's placeholders such as {env.NAME} and {file.PATH} read secrets",
}

// pluginAlternatives names the Caddy directive doing a Kong plugin's job,
// for the bundled plugins Kong users rely on most.
var pluginAlternatives = map[string]string{
	"key-auth": "forward_auth", "basic-auth": "basic_auth", "jwt": "forward_auth", "oauth2": "forward_auth",
	"hmac-auth": "forward_auth", "ldap-auth": "forward_auth", "openid-connect": "forward_auth",
	"acl": "forward_auth", "ip-restriction": "a remote_ip or client_ip matcher with abort",
	"bot-detection": "a header matcher with abort", "cors": "header (Access-Control-* response headers)",
	"request-transformer": "request_header, rewrite and uri", "response-transformer": "header",
	"request-size-limiting": "request_body max_size", "request-termination": "respond",
	"rate-limiting": "rate_limit (the caddy-ratelimit module)", "response-ratelimiting": "rate_limit (the caddy-ratelimit module)",
	"proxy-cache": "cache (the cache-handler module)", "correlation-id": "request_header X-Request-ID {http.request.uuid}",
	"file-log": "log", "http-log": "log", "tcp-log": "log", "udp-log": "log", "syslog": "log",
	"prometheus": "metrics", "acme": "automatic HTTPS (tls)", "session": "forward_auth",
}

// UnsupportedMessage tells a user that a Kong entity kind does not exist
// here, and which Caddy directives do its job.
func UnsupportedMessage(kind string) string {
	msg := "this gateway has no " + kind + " (it serves Kong's services, routes, upstreams and targets)"
	if alt, ok := caddyAlternatives[kind]; ok {
		msg += ": " + alt
	}
	return msg
}

// UnsupportedPluginMessage tells a user that a Kong plugin does not exist
// here, and which Caddy directive does its job when one is known.
func UnsupportedPluginMessage(name string) string {
	msg := "this gateway has no Kong plugins"
	if alt, ok := pluginAlternatives[name]; ok {
		return msg + ": Caddy's " + alt + " does the job of '" + name + "'"
	}
	return msg + ": " + caddyAlternatives["plugins"]
}
