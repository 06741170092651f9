package schema

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HostType classifies a host string as Kong's hostname_type does.
func HostType(s string) string {
	if strings.Count(s, ":") > 1 {
		return "ipv6"
	}
	stripped := strings.ReplaceAll(s, ":", "")
	if stripped != "" && strings.Trim(stripped, "0123456789.") == "" {
		return "ipv4"
	}
	return "name"
}

var hostnameChars = regexp.MustCompile(`^[0-9A-Za-z\-._]+$`)

// SplitHostPort splits "host[:port]" where host is a name or IPv4. It
// returns port -1 when absent and ok=false on a malformed port.
func SplitHostPort(s string) (host string, port int, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, -1, true
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || s[i+1:] == "" || strings.ContainsAny(s[i+1:], "+-") {
		return s, -1, false
	}
	return s[:i], p, true
}

// ValidHostname reports whether name (without port) is a valid hostname:
// letters, digits, '-', '.', '_'; no empty label except a trailing dot; no
// label ending with '-'.
func ValidHostname(name string) bool {
	if name == "" || !hostnameChars.MatchString(name) {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for _, l := range labels {
		if l == "" || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return true
}

// CheckUpstreamName validates an upstream name with Kong's messages.
func CheckUpstreamName(v any) string {
	name := v.(string)
	if !utf8.ValidString(name) {
		return "Invalid name; must be a valid hostname"
	}
	switch HostType(name) {
	case "ipv4", "ipv6":
		if HostType(name) == "ipv4" && !isIPv4WithOptionalPort(name) {
			return fmt.Sprintf("Invalid name ('%s'); must be a valid hostname", name)
		}
		return fmt.Sprintf("Invalid name ('%s'); no ip addresses allowed", name)
	}
	host, port, ok := SplitHostPort(name)
	if !ok || !ValidHostname(host) || port > 65535 {
		return fmt.Sprintf("Invalid name ('%s'); must be a valid hostname", name)
	}
	if port >= 0 {
		return fmt.Sprintf("Invalid name ('%s'); no port allowed", name)
	}
	return ""
}

func isIPv4WithOptionalPort(s string) bool {
	host, port, ok := SplitHostPort(s)
	if !ok || port > 65535 {
		return false
	}
	_, err := parseIPv4Lenient(host)
	return err == nil
}

// parseIPv4Lenient parses dotted IPv4 allowing leading zeros (Kong
// normalises 001.002.003.004 to 1.2.3.4).
func parseIPv4Lenient(s string) (netip.Addr, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return netip.Addr{}, fmt.Errorf("not ipv4")
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return netip.Addr{}, fmt.Errorf("not ipv4")
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > 255 {
			return netip.Addr{}, fmt.Errorf("not ipv4")
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}

// DefaultTargetPort is the port Kong gives a target without one.
const DefaultTargetPort = 8000

// NormalizeTarget turns "host[:port]" into Kong's stored form: port 8000 by
// default, IPv4 without leading zeros, IPv6 fully expanded, lower-case and
// bracketed; hostnames keep their case. ok is false when the value is not a
// valid hostname or IP address.
func NormalizeTarget(s string) (string, bool) {
	host, port, ok := ParseTarget(s)
	if !ok {
		return "", false
	}
	return FormatTarget(host, port), true
}

// ParseTarget parses a target into its normalised host (IPv6 without
// brackets) and port.
func ParseTarget(s string) (host string, port int, ok bool) {
	if s == "" {
		return "", 0, false
	}
	switch HostType(s) {
	case "ipv6":
		addrPart, port := s, DefaultTargetPort
		if strings.HasPrefix(s, "[") {
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return "", 0, false
			}
			addrPart = s[1:end]
			rest := s[end+1:]
			if rest != "" {
				if !strings.HasPrefix(rest, ":") {
					return "", 0, false
				}
				p, err := strconv.Atoi(rest[1:])
				if err != nil || p < 0 || p > 65535 {
					return "", 0, false
				}
				port = p
			}
		}
		addr, err := netip.ParseAddr(addrPart)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", 0, false
		}
		return expandIPv6(addr), port, true
	case "ipv4":
		h, p, ok := SplitHostPort(s)
		if !ok || p > 65535 {
			return "", 0, false
		}
		addr, err := parseIPv4Lenient(h)
		if err != nil {
			return "", 0, false
		}
		if p < 0 {
			p = DefaultTargetPort
		}
		return addr.String(), p, true
	default:
		h, p, ok := SplitHostPort(s)
		if !ok || p > 65535 || !ValidHostname(h) {
			return "", 0, false
		}
		if p < 0 {
			p = DefaultTargetPort
		}
		return h, p, true
	}
}

// FormatTarget joins a normalised host and port, bracketing IPv6.
func FormatTarget(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

func expandIPv6(a netip.Addr) string {
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x%02x", b[i], b[i+1])
	}
	return sb.String()
}

var headerName = regexp.MustCompile(`^[a-zA-Z0-9\-_]+$`)

// CheckHeaderName validates a header name as Kong's header_name typedef.
func CheckHeaderName(v any) string {
	if s := v.(string); !headerName.MatchString(s) {
		return fmt.Sprintf("bad header name '%s', allowed characters are A-Z, a-z, 0-9, '_', and '-'", s)
	}
	return ""
}

// CheckCookieName validates an RFC 2616 token, as Kong's cookie_name typedef.
func CheckCookieName(v any) string {
	s := v.(string)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 32 || c >= 127 || strings.IndexByte(" \t()<>@,;:\\\"/?={}[]", c) >= 0 {
			return "contains one or more invalid characters. ASCII control characters (0-31;127), space, tab and the characters ()<>@,;:\\\"/?={}[] are not allowed."
		}
	}
	if s == "" {
		return "length must be at least 1"
	}
	return ""
}

var pathChars = regexp.MustCompile(`^/[0-9A-Za-z.\-_~/%:@!$&'()*+,;=]*$`)

// CheckPath validates Kong's path typedef.
func CheckPath(v any) string {
	s := v.(string)
	if !strings.HasPrefix(s, "/") {
		return "should start with: /"
	}
	if strings.Contains(s, "//") {
		return "must not have empty segments"
	}
	if !pathChars.MatchString(s) {
		return fmt.Sprintf("invalid path: '%s' (characters outside of the reserved list of RFC 3986 found)", s)
	}
	return checkPercentEncoding(s)
}

// checkPercentEncoding reports the first malformed %-escape of s, in Kong's
// words, or "".
func checkPercentEncoding(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			end := min(i+3, len(s))
			return fmt.Sprintf("invalid url-encoded value: '%s'", s[i:end])
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// CheckHostWithOptionalPort validates a hostname or IP with an optional port.
func CheckHostWithOptionalPort(v any) string {
	s := v.(string)
	host, port, ok := ParseTarget(s)
	if !ok || host == "" {
		return "invalid hostname: " + s
	}
	if port > 65535 {
		return "invalid port number"
	}
	return ""
}

// CheckSNI validates Kong's sni typedef: a hostname, not an IP, no port.
func CheckSNI(v any) string {
	s := v.(string)
	if HostType(s) != "name" {
		if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return "must not be an IP"
		}
		if _, err := parseIPv4Lenient(s); err == nil {
			return "must not be an IP"
		}
	}
	if _, port, ok := SplitHostPort(s); ok && port >= 0 {
		return "must not have a port"
	}
	if !ValidHostname(s) {
		return "invalid value: " + s
	}
	return ""
}

// CheckTag validates a tag: printable ASCII except ',' and '/', or UTF-8.
func CheckTag(v any) string {
	s := v.(string)
	if msg := checkUTF8(s); msg != "" {
		return msg
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c < 0x20 || c > 0x7e || c == ',' || c == '/') {
			return fmt.Sprintf("invalid tag '%s': expected printable ascii (except `,` and `/`) or valid utf-8 sequences", s)
		}
	}
	return ""
}

// checkUTF8 is Kong's validate_utf8_string: "" for valid UTF-8, else the
// message naming the 1-based byte position of the first invalid sequence.
func checkUTF8(s string) string {
	if utf8.ValidString(s) {
		return ""
	}
	for i := range s {
		if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size <= 1 {
			return fmt.Sprintf("invalid utf-8 character sequence detected at position %d", i+1)
		}
	}
	return ""
}

// TagsField is Kong's tags typedef: a set of tag strings.
func TagsField() Field {
	return Field{Name: "tags", Type: Set, Elements: &Field{Type: String, Check: CheckTag}}
}

// Between returns an inclusive range for Field.Between.
func Between(lo, hi float64) *[2]float64 { return &[2]float64{lo, hi} }

// Strings returns vals as a OneOf list.
func Strings(vals ...string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// Ints returns vals as a OneOf list.
func Ints(vals ...int) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}
