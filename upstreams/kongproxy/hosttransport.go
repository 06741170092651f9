package kongproxy

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// upstreamHostVar is the request variable holding the Host header to send
// upstream (an *upstreamHost).
const upstreamHostVar = "kong_proxy.upstream_host"

// upstreamHost decides the Host header of the proxied request, as Kong
// does: the client's Host with preserve_host, else the upstream's
// host_header if set, else the target's host (with its port unless it is
// the protocol's default).
type upstreamHost struct {
	value  string // used as is when non-empty
	target bool   // use the address being dialled
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
		switch {
		case h.value != "":
			req.Host = h.value
		case h.target:
			req.Host = hostWithoutDefaultPort(req.URL.Host, t.defaultPort)
		}
	}
	start := time.Now()
	res, err := t.Transport.RoundTrip(req)
	if res != nil {
		res.Header.Set("X-Kong-Upstream-Latency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	}
	return res, err
}

// hostWithoutDefaultPort drops ":80" (http) or ":443" (https) from an address.
func hostWithoutDefaultPort(addr, defaultPort string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != defaultPort {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}
