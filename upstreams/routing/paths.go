package routing

import (
	"fmt"
	"regexp"
	"strings"
)

// IsRegexPath reports whether a route path is a regex (Kong 3.x: it starts
// with "~"); other paths are prefixes.
func IsRegexPath(p string) bool { return strings.HasPrefix(p, "~") }

// pathMatcher matches one route path against a normalized request path.
type pathMatcher struct {
	prefix string         // for prefix paths
	re     *regexp.Regexp // for regex paths, anchored at the start
}

// newPathMatcher compiles a route path.
func newPathMatcher(p string) (pathMatcher, error) {
	if !IsRegexPath(p) {
		return pathMatcher{prefix: p}, nil
	}
	re, err := compileRegexPath(p)
	if err != nil {
		return pathMatcher{}, err
	}
	return pathMatcher{re: re}, nil
}

// match returns the matched part of path (the prefix, or the text the regex
// matched from the start of the path) and the regex's submatch indexes.
func (m *pathMatcher) match(path string) (matched string, groups []int, ok bool) {
	if m.re == nil {
		if strings.HasPrefix(path, m.prefix) {
			return m.prefix, nil, true
		}
		return "", nil, false
	}
	groups = m.re.FindStringSubmatchIndex(path)
	if groups == nil {
		return "", nil, false
	}
	return path[:groups[1]], groups, true
}

// compileRegexPath compiles "~<regex>" as "^<regex>". Go accepts both
// (?<name>) and (?P<name>) named groups. The error names PCRE-only
// constructs, which Kong's traditional_compatible router (Rust regex)
// rejects too.
func compileRegexPath(p string) (*regexp.Regexp, error) {
	body := strings.TrimPrefix(p, "~")
	if c := pcreOnly(body); c != "" {
		return nil, fmt.Errorf("invalid regex %q: %s is not supported (PCRE only; Kong's router rejects it too)", body, c)
	}
	re, err := regexp.Compile("^" + body)
	if err != nil {
		return nil, fmt.Errorf("invalid regex %q: %v", body, err)
	}
	return re, nil
}

// pcreConstructs are PCRE features with no RE2 equivalent, by the token
// that introduces them.
var pcreConstructs = []struct{ token, name string }{
	{"(?=", "lookahead (?=...)"},
	{"(?!", "negative lookahead (?!...)"},
	{"(?<=", "lookbehind (?<=...)"},
	{"(?<!", "negative lookbehind (?<!...)"},
	{"(?>", "atomic group (?>...)"},
	{"(?|", "branch reset (?|...)"},
	{"(?R)", "recursion (?R)"},
	{"(?(", "conditional (?(...)...)"},
	{`\K`, `match reset \K`},
	{"*+", "possessive quantifier *+"},
	{"++", "possessive quantifier ++"},
	{"?+", "possessive quantifier ?+"},
}

// pcreOnly returns the name of the first PCRE-only construct in re, or "".
// Backreferences (\1..\9) are detected separately since they are escapes.
func pcreOnly(re string) string {
	for _, c := range pcreConstructs {
		if strings.Contains(re, c.token) && !escaped(re, c.token) {
			return c.name
		}
	}
	for i := 0; i+1 < len(re); i++ {
		if re[i] == '\\' {
			if re[i+1] >= '1' && re[i+1] <= '9' {
				return "backreference " + re[i:i+2]
			}
			i++ // skip the escaped character
		}
	}
	return ""
}

// escaped reports whether every occurrence of token in re starts with an
// escaped character (e.g. `\(?=` is a literal "(" then "?=").
func escaped(re, token string) bool {
	for i := 0; ; {
		j := strings.Index(re[i:], token)
		if j < 0 {
			return true
		}
		at := i + j
		backslashes := 0
		for k := at - 1; k >= 0 && re[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return false
		}
		i = at + 1
	}
}
