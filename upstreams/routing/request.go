package routing

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Request is what the router looks at in an HTTP request.
type Request struct {
	Method string
	// Host is the request's host without port, lowercased.
	Host string
	// Port is the port of the Host header, or the port the request was
	// received on when the Host header has none.
	Port int
	// Path is the request path, percent-encoded and normalized
	// (NormalizePath).
	Path    string
	Headers http.Header
	// HTTPS is true when the client connection is TLS.
	HTTPS bool
	// SNI is the TLS server name, if any, lowercased and without a
	// trailing dot (as route snis are compiled).
	SNI string
}

// NewRequest returns the router's view of r. localPort is the port the
// request was received on (used when the Host header has no port).
func NewRequest(r *http.Request, localPort int) Request {
	host, port := SplitHostPort(r.Host)
	if port == 0 {
		port = localPort
	}
	req := Request{
		Method:  r.Method,
		Host:    strings.ToLower(host),
		Port:    port,
		Path:    NormalizePath(r.URL.EscapedPath()),
		Headers: r.Header,
		HTTPS:   r.TLS != nil,
	}
	if r.TLS != nil {
		req.SNI = strings.ToLower(strings.TrimSuffix(r.TLS.ServerName, "."))
	}
	return req
}

// SplitHostPort splits "host[:port]" (IPv6 in brackets) into host and
// port; port is 0 when absent or not a number.
func SplitHostPort(hostport string) (string, int) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), 0
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return host, 0
	}
	return host, port
}

// NormalizePath is Kong's normalization of the (percent-encoded) request
// path before matching (schema.NormalizePath, the one route paths are
// checked with): escapes of unreserved characters are decoded ("%7E" →
// "~"), other escapes are kept with upper-case hex digits ("%2f" → "%2F",
// so an encoded slash stays one), "." and ".." segments are resolved and
// runs of slashes collapse to one. A trailing slash is kept. The result
// always starts with "/". An already normalized path is returned as is,
// without allocating.
func NormalizePath(p string) string {
	if !needsNormalizing(p) {
		return p
	}
	n := schema.NormalizePath(p)
	if !strings.HasPrefix(n, "/") {
		n = "/" + n
	}
	return n
}

// needsNormalizing reports whether p may not be normalized already.
func needsNormalizing(p string) bool {
	if p == "" || p[0] != '/' || strings.IndexByte(p, '%') >= 0 {
		return true
	}
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}
