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

// targetHostPlaceholder is where the registry source leaves, per attempt,
// the name Kong sends for the picked address (the upstream's host_header,
// the SRV name with use_srv_name, else the target's hostname).
const targetHostPlaceholder = "upstreams.host"

// hostTransport is the registry transport that also applies what
// kong_proxy decided for the request (its path, Kong's headers, and the
// Host header, as Kong's set_host_header). It runs per attempt, after
// reverse_proxy chose the address, so a retry to another target gets that
// target's host.
type hostTransport struct {
	*reverseproxy.Transport
	defaultPort string
}

// RoundTrip applies kong_proxy's decisions, proxies, and adds Kong's
// X-Kong-Upstream-Latency to the response: whole milliseconds from
// sending the request to receiving the response headers.
func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p, ok := caddyhttp.GetVar(req.Context(), proxiedVar).(*proxiedRequest); ok {
		p.apply(req)
		req.Host = t.host(req, p.preservedHost)
	}
	start := time.Now()
	res, err := t.Transport.RoundTrip(req)
	if res != nil {
		res.Header["X-Kong-Upstream-Latency"] = []string{strconv.FormatInt(time.Since(start).Milliseconds(), 10)}
	}
	return res, err
}

// host is the Host header for this attempt: the client's with
// preserve_host; else the name the registry source chose for the picked
// address (the upstream's host_header, else the target's hostname), else
// the address dialled, followed by the port unless it is the protocol's
// default.
func (t *hostTransport) host(req *http.Request, preserved string) string {
	if preserved != "" {
		return preserved
	}
	dialHost, port, err := net.SplitHostPort(req.URL.Host)
	if err != nil {
		return req.URL.Host
	}
	name := ""
	if repl, ok := req.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		name, _ = repl.GetString(targetHostPlaceholder)
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
