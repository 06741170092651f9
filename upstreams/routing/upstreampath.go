package routing

import "strings"

// UpstreamPath returns the path a matched request is proxied with, from
// the request's normalized path, the match, and the service's path (""
// means "/"). It is Kong's path construction: the route's strip_path
// removes the matched part, and path_handling decides how the rest is
// joined to the service path (see the table in docs/kong-proxy.md).
//
// Kong's traditional_compatible router always joins the v0 way and only
// warns about v1; the traditional router honours v1, and so do we: a user
// who writes path_handling v1 gets v1.
func UpstreamPath(m *Match, reqPath, servicePath string) string {
	base := servicePath
	if base == "" {
		base = "/"
	}
	strip := m.Route.StripPath && m.MatchedPath != ""
	var postfix string // what is left of the path once stripped; joins without strip read reqPath
	if strip {
		postfix = sanitizePostfix(reqPath[len(m.MatchedPath):])
	}
	if m.Route.PathHandling == PathHandlingV1 {
		return joinV1(base, postfix, reqPath, strip)
	}
	return joinV0(base, postfix, reqPath, strip)
}

// sanitizePostfix drops a leading "." or ".." segment left by stripping
// (Kong's sanitize_uri_postfix), so stripping cannot climb above the
// service path.
func sanitizePostfix(p string) string {
	switch {
	case p == "." || p == "..":
		return ""
	case strings.HasPrefix(p, "./"):
		return p[2:]
	case strings.HasPrefix(p, "../"):
		return p[3:]
	}
	return p
}

// joinV0 is path_handling v0 (Kong's default): the service path and the
// rest of the request path are joined with exactly one slash, and a
// trailing slash follows the request's.
func joinV0(base, postfix, reqPath string, strip bool) string {
	if strings.HasSuffix(base, "/") {
		switch {
		case !strip:
			return base + strings.TrimPrefix(reqPath, "/")
		case postfix == "":
			if base == "/" || strings.HasSuffix(reqPath, "/") {
				return base
			}
			return base[:len(base)-1]
		case strings.HasPrefix(postfix, "/"):
			return base[:len(base)-1] + postfix
		default:
			return base + postfix
		}
	}
	switch {
	case !strip:
		if reqPath == "/" {
			return base
		}
		return base + reqPath
	case postfix == "":
		if len(reqPath) > 1 && strings.HasSuffix(reqPath, "/") {
			return base + "/"
		}
		return base
	case strings.HasPrefix(postfix, "/"):
		return base + postfix
	default:
		return base + "/" + postfix
	}
}

// joinV1 is path_handling v1 (Kong's older behaviour): the service path
// is concatenated with what is left of the request path, dropping a
// doubled slash only; without strip_path the request path (less its
// leading slash) is appended to the service path.
func joinV1(base, postfix, reqPath string, strip bool) string {
	if !strip {
		return base + strings.TrimPrefix(reqPath, "/")
	}
	if strings.HasSuffix(base, "/") && strings.HasPrefix(postfix, "/") {
		return base[:len(base)-1] + postfix
	}
	return base + postfix
}
