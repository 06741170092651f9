package routing

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// headerMatcher matches one header of a route: the request must have a
// value of the header equal to one of values or matching one of regexes.
// Values, regexes and the request's values are lowercased, as Kong does,
// so the comparison ignores case.
type headerMatcher struct {
	name    string // canonical header name
	values  []string
	regexes []*regexp.Regexp
}

// newHeaderMatcher compiles a route header; values starting with "~*" are
// regexes (unanchored).
func newHeaderMatcher(name string, values []string) (headerMatcher, error) {
	m := headerMatcher{name: http.CanonicalHeaderKey(name)}
	for _, v := range values {
		v = strings.ToLower(v)
		if body, ok := strings.CutPrefix(v, "~*"); ok {
			if c := pcreOnly(body); c != "" {
				return m, fmt.Errorf("header %s: invalid regex %q: %s is not supported", name, body, c)
			}
			re, err := regexp.Compile(body)
			if err != nil {
				return m, fmt.Errorf("header %s: invalid regex %q: %v", name, body, err)
			}
			m.regexes = append(m.regexes, re)
			continue
		}
		m.values = append(m.values, v)
	}
	return m, nil
}

// match reports whether one of the request's values of the header matches.
func (m *headerMatcher) match(h http.Header) bool {
	for _, v := range h[m.name] {
		for _, want := range m.values {
			if strings.EqualFold(v, want) {
				return true
			}
		}
		if len(m.regexes) == 0 {
			continue
		}
		lower := strings.ToLower(v)
		for _, re := range m.regexes {
			if re.MatchString(lower) {
				return true
			}
		}
	}
	return false
}
