package routing

import (
	"strconv"
	"strings"
)

// hostMatcher matches one route host: "example.com", "*.example.com" or
// "example.*", optionally with ":port".
type hostMatcher struct {
	value  string // lowercased, without the wildcard
	suffix bool   // "*.example.com": the host ends with value (".example.com")
	prefix bool   // "example.*": the host starts with value ("example.")
	port   int    // 0: any port
}

// newHostMatcher parses a route host. As in Kong, a port is split off the
// last ":" when what follows is a number.
func newHostMatcher(h string) hostMatcher {
	m := hostMatcher{}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if port, err := strconv.Atoi(h[i+1:]); err == nil {
			m.port, h = port, h[:i]
		}
	}
	h = strings.ToLower(h)
	switch {
	case strings.HasPrefix(h, "*"):
		m.suffix, h = true, h[1:]
	case strings.HasSuffix(h, "*"):
		m.prefix, h = true, h[:len(h)-1]
	}
	m.value = h
	return m
}

// wildcard reports whether the host has a wildcard.
func (m *hostMatcher) wildcard() bool { return m.suffix || m.prefix }

// match reports whether the request's host and port match.
func (m *hostMatcher) match(host string, port int) bool {
	if m.port != 0 && m.port != port {
		return false
	}
	switch {
	case m.suffix:
		return strings.HasSuffix(host, m.value)
	case m.prefix:
		return strings.HasPrefix(host, m.value)
	default:
		return host == m.value
	}
}
