package routing

import (
	"net"
	"net/http"
	"strconv"
	"strings"
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
	// SNI is the TLS server name, if any.
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
		req.SNI = r.TLS.ServerName
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
// path before matching (kong.tools.uri normalize, merging slashes):
// escapes of unreserved characters are decoded ("%7E" → "~"), other
// escapes are kept with upper-case hex digits ("%2f" → "%2F", so an
// encoded slash stays one), "." and ".." segments are resolved and runs of
// slashes collapse to one. A trailing slash is kept. The result always
// starts with "/".
func NormalizePath(p string) string {
	if strings.IndexByte(p, '%') >= 0 {
		p = normalizeEscapes(p)
	}
	if !needsNormalizing(p) {
		return p
	}
	segments := strings.Split(p, "/")
	out := make([]string, 0, len(segments))
	trailing := false
	for _, s := range segments {
		trailing = false
		switch s {
		case "":
			trailing = true
		case ".":
			trailing = true
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = true
		default:
			out = append(out, s)
		}
	}
	n := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		n += "/"
	}
	return n
}

// needsNormalizing reports whether p is not already normalized, so the
// common case allocates nothing.
func needsNormalizing(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	return strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
}

// normalizeEscapes decodes the escapes of unreserved characters (RFC 3986
// section 2.3) and upper-cases the others; a malformed escape is kept.
func normalizeEscapes(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			b.WriteByte(p[i])
			continue
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		if unreserved(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteString(strings.ToUpper(p[i+1 : i+3]))
		}
		i += 2
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
