package schema

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// This file holds the typedefs of Kong's service and route entities
// (kong/db/schema/typedefs.lua), with Kong's messages.

// Protocols are Kong's protocol names (constants.PROTOCOLS, sorted).
var Protocols = []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp"}

// CheckUTF8Name validates Kong's utf8_name typedef: letters, digits, '.',
// '-', '_', '~' and any non-ASCII UTF-8 character.
func CheckUTF8Name(v any) string {
	s := v.(string)
	if msg := checkUTF8(s); msg != "" {
		return msg
	}
	if s == "" {
		return "length must be at least 1"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte(".-_~", c) >= 0 {
			continue
		}
		return fmt.Sprintf("invalid value '%s': the only accepted ascii characters are alphanumerics or ., -, _, and ~", s)
	}
	return ""
}

// hostPort splits a host (name, IPv4 or IPv6, bracketed or not) from an
// optional port. hasPort tells whether a port was written (a malformed
// one counts); hostOK whether the host is a valid name or address.
func hostPort(s string) (hasPort, hostOK bool) {
	if HostType(s) == "ipv6" {
		host := s
		if strings.HasPrefix(s, "[") {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return false, false
			}
			host, hasPort = s[1:end], end+1 < len(s)
		}
		a, err := netip.ParseAddr(host)
		return hasPort, err == nil && a.Is6() && a.Zone() == ""
	}
	h, port, ok := SplitHostPort(s)
	hasPort = !ok || port >= 0
	if !ok {
		h = s[:strings.LastIndexByte(s, ':')] // a port that is not a number
	}
	if HostType(h) == "ipv4" {
		_, err := parseIPv4Lenient(h)
		return hasPort, err == nil
	}
	return hasPort, ValidHostname(h)
}

// CheckHost validates Kong's host typedef: a hostname or IP address
// without a port.
func CheckHost(v any) string {
	s := v.(string)
	hasPort, hostOK := hostPort(s)
	if !hostOK {
		return "invalid value: " + s
	}
	if hasPort {
		return "must not have a port"
	}
	return ""
}

// CheckWildcardHost validates one element of a route's hosts: at most one
// '*', as the leftmost or rightmost label, and a valid host with an
// optional port once the wildcard is replaced.
func CheckWildcardHost(v any) string {
	s := v.(string)
	if strings.Count(s, "*") > 1 {
		return "invalid wildcard: must have at most one wildcard"
	}
	if strings.Contains(s, "*") && !strings.HasPrefix(s, "*.") && !strings.HasSuffix(s, ".*") {
		return "invalid wildcard: must be placed at leftmost or rightmost label"
	}
	return CheckHostWithOptionalPort(strings.ReplaceAll(s, "*", "abc"))
}

var httpMethod = regexp.MustCompile(`^[A-Z]+$`)

// CheckHTTPMethod validates Kong's http_method typedef: upper-case letters.
func CheckHTTPMethod(v any) string {
	if s := v.(string); !httpMethod.MatchString(s) {
		return "invalid value: " + s
	}
	return ""
}

// CheckIPOrCIDR validates Kong's ip_or_cidr typedef.
func CheckIPOrCIDR(v any) string {
	s := v.(string)
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return ""
	}
	return "invalid ip or cidr range: '" + s + "'"
}

// CheckRouterPath validates Kong's router_path typedef: a plain path
// ("/...", already normalised) or a regex ("~/...") that compiles. Regexes
// are compiled with Go's RE2 syntax, the engine that will run them; the
// message keeps Kong's wording.
func CheckRouterPath(v any) string {
	s := v.(string)
	if !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "~/") {
		return "should start with: / (fixed path) or ~/ (regex path)"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if msg := checkPercentEncoding(s); msg != "" {
		return msg
	}
	if !strings.HasPrefix(s, "~") {
		if n := NormalizePath(s); n != s {
			return "non-normalized path, consider use '" + n + "' instead"
		}
		return ""
	}
	if _, err := regexp.Compile(s[1:]); err != nil {
		return fmt.Sprintf("invalid regex: '%s' (PCRE returned: %s)", s[1:], err)
	}
	return ""
}

// NormalizePath is Kong's path normalisation (kong.tools.uri.normalize
// with merged slashes): percent-encoded unreserved characters are decoded,
// other escapes upper-cased, repeated slashes merged and dot segments
// removed (RFC 3986 5.2.4).
func NormalizePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			n, _ := strconv.ParseUint(p[i+1:i+3], 16, 8)
			if d := byte(n); isUnreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
			}
			i += 2
			continue
		}
		if c == '/' && b.Len() > 0 && strings.HasSuffix(b.String(), "/") {
			continue
		}
		b.WriteByte(c)
	}
	return removeDotSegments(b.String())
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	r := strings.Join(out, "/")
	if !strings.HasPrefix(r, "/") && strings.HasPrefix(p, "/") {
		r = "/" + r
	}
	return r
}
