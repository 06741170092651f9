package upstreams

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// DeclarativeFormatVersions are the _format_version values a document may
// have, as Kong 3.x accepts them; 1.1 and 2.1 are migrated to 3.0 on load.
var DeclarativeFormatVersions = []string{"1.1", "2.1", DeclarativeFormatVersion}

// plainRoutePath matches the paths Kong's 3.0 migration keeps as plain
// prefixes (kong/db/migrations/migrate_path_280_300.lua); any other path
// was a regex under Kong 2.x's heuristic.
var plainRoutePath = regexp.MustCompile(`^[a-zA-Z0-9.\-_~/%]*$`)

// migrateFormatVersion upgrades a _format_version "1.1" or "2.1" document
// to "3.0" in place, as Kong 3.x does when it loads one
// (kong/db/declarative/migrations/route_path.lua): the paths of top-level
// routes and of routes nested in services are migrated, then the version
// becomes "3.0". Other documents are left as they are.
func migrateFormatVersion(doc map[string]any) {
	v := doc["_format_version"]
	if v != "1.1" && v != "2.1" {
		return
	}
	migrateRoutePaths(doc["routes"])
	services, _ := doc["services"].([]any)
	for _, s := range services {
		if m, ok := s.(map[string]any); ok {
			migrateRoutePaths(m["routes"])
		}
	}
	doc["_format_version"] = DeclarativeFormatVersion
}

// migrateRoutePaths migrates the paths of each route in a route list.
func migrateRoutePaths(routes any) {
	list, _ := routes.([]any)
	for _, r := range list {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		paths, _ := m["paths"].([]any)
		for i, p := range paths {
			if s, ok := p.(string); ok {
				paths[i] = migrateRoutePath(s)
			}
		}
	}
}

// migrateRoutePath is Kong's 2.8-to-3.0 path migration: a path of plain
// characters is normalised; any other is a regex, prefixed with "~" and
// with its percent-escapes decoded once (reserved characters stay
// escaped, upper-cased; regex metacharacters are decoded escaped).
func migrateRoutePath(p string) string {
	if plainRoutePath.MatchString(p) {
		return schema.NormalizePath(p)
	}
	var b strings.Builder
	b.WriteByte('~')
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+3], 16, 8); err == nil {
				b.WriteString(decodedRegexEscape(byte(n), p[i:i+3]))
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// decodedRegexEscape decodes one percent-escape of a regex path.
func decodedRegexEscape(c byte, escape string) string {
	if strings.IndexByte("!#$%&'()*+,/:;=?@[]", c) >= 0 {
		return strings.ToUpper(escape)
	}
	if strings.IndexByte(".^-{}\\|", c) >= 0 {
		return `\` + string(c)
	}
	return string(c)
}
