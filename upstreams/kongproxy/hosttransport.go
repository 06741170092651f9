package kongproxy

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// upstreamHostVar is the request variable holding the Host header to send
// upstream (an *upstreamHost).
const upstreamHostVar = "kong_proxy.upstream_host"

// targetHostPlaceholder is where the registry source leaves, per attempt,
// the name Kong sends for the picked address (the upstream's host_header,
// the SRV name with use_srv_name, else the target's hostname).
const targetHostPlaceholder = "upstreams.host"

// upstreamHost decides the Host header of the proxied request, as Kong
// does (set_host_header): the client's Host with preserve_host; else a
// name (the upstream's host_header, else the target's hostname, else the
// address being dialled) followed by the port unless it is the
// protocol's default.
type upstreamHost struct {
	preserved string // the client's Host, with preserve_host
	name      string // the upstream's host_header, if any
}

// hostTransport is the registry transport that also sets the Host header
// decided by the handler. It runs per attempt, after reverse_proxy chose
// the address, so a retry to another target gets that target's host.
type hostTransport struct {
	*reverseproxy.Transport
	defaultPort string
}

// RoundTrip sets the Host header, proxies, and adds Kong's
// X-Kong-Upstream-Latency to the response: whole milliseconds from
// sending the request to receiving the response headers.
func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if h, ok := caddyhttp.GetVar(req.Context(), upstreamHostVar).(*upstreamHost); ok {
		req.Host = t.host(req, h)
	}
	start := time.Now()
	res, err := t.Transport.RoundTrip(req)
	if res != nil {
		res.Header.Set("X-Kong-Upstream-Latency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	}
	return res, err
}

// host is the Host header for this attempt.
func (t *hostTransport) host(req *http.Request, h *upstreamHost) string {
	if h.preserved != "" {
		return h.preserved
	}
	dialHost, port, err := net.SplitHostPort(req.URL.Host)
	if err != nil {
		return req.URL.Host
	}
	name := h.name
	if name == "" {
		if repl, ok := req.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			name, _ = repl.GetString(targetHostPlaceholder)
		}
	}
	if name == "" {
		name = dialHost
	}
	return hostHeader(name, port, t.defaultPort)
}

// hostHeader joins a name and a port for a Host header, leaving out the
// protocol's default port; an IPv6 address is bracketed once, whether the
// name came bracketed (a host_header of "[::1]") or not.
func hostHeader(name, port, defaultPort string) string {
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		name = name[1 : len(name)-1]
	}
	if port != defaultPort {
		return net.JoinHostPort(name, port)
	}
	if strings.Contains(name, ":") {
		return "[" + name + "]"
	}
	return name
}
