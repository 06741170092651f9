package ingress

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// Regex prefixes: Kong 3 reads a path starting with "~" as a regular
// expression; in an Ingress, whose paths must start with "/", KIC writes
// it "/~" (or the prefix of the konghq.com/regex-prefix annotation).
const (
	kongRegexPrefix       = "~"
	controllerRegexPrefix = "/~"
)

// kongPaths returns the Kong route paths of one Ingress path, as KIC
// translates it:
//
//   - Prefix "/a/b": "/a/b/" (the prefix with its subpaths) and the
//     regular expression "~/a/b$" (the path itself); Prefix "/": "/".
//   - Exact "/a/b": "~/a/b$".
//   - ImplementationSpecific (and no type): the path as written, a Kong
//     prefix, or a regular expression when it starts with the regex prefix.
func kongPaths(path string, pathType networkingv1.PathType, regexPrefix string) []string {
	var plain, regex []string
	switch pathType {
	case networkingv1.PathTypePrefix:
		base := strings.Trim(path, "/")
		if base == "" {
			plain = append(plain, "/")
		} else {
			plain = append(plain, "/"+base+"/")
			regex = append(regex, kongRegexPrefix+"/"+base+"$")
		}
	case networkingv1.PathTypeExact:
		regex = append(regex, kongRegexPrefix+"/"+strings.TrimLeft(path, "/")+"$")
	default:
		if path == "" {
			path = "/"
		}
		plain = append(plain, path)
	}
	out := append(plain, regex...)
	for i, p := range out {
		if strings.HasPrefix(p, regexPrefix) {
			out[i] = strings.Replace(p, regexPrefix, kongRegexPrefix, 1)
		}
	}
	return out
}

// flattenSlashes collapses runs of "/" into one, as KIC does before
// translating a path.
func flattenSlashes(path string) string {
	var b strings.Builder
	b.Grow(len(path))
	prevSlash := false
	for _, c := range path {
		if c == '/' && prevSlash {
			continue
		}
		prevSlash = c == '/'
		b.WriteRune(c)
	}
	return b.String()
}
