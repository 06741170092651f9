package routing

import (
	"fmt"
	"sort"
	"strings"
)

// Router matches requests against compiled routes. It is immutable and
// safe for concurrent use.
//
// Entries are kept in priority order and indexed so that a request does
// not try them all: an entry whose hosts are all exact can only match a
// request for one of those hosts (byHost), and an entry without such hosts
// whose paths are all prefixes can only match a path starting with one of
// them (byPrefix, looked up for each prefix length in use). A request tries
// the entries of its host, those of the prefixes of its path, and the
// others (regex paths, or neither hosts nor paths), merged in priority
// order, so a gateway with many routes costs about as much as one with a
// few per host or path.
type Router struct {
	entries  []entry          // in priority order
	byHost   map[string][]int // exact host -> entries with only exact hosts
	byPrefix map[string][]int // prefix path -> entries with only prefix paths (and no exact-only hosts)
	lengths  []int            // the lengths of the byPrefix keys, ascending
	others   []int            // the remaining entries
}

// entry is one route with one group of its paths, compiled.
type entry struct {
	route    *Route
	priority priority
	methods  []string
	hosts    []hostMatcher
	paths    []pathMatcher
	headers  []headerMatcher
	snis     []string
}

// Match is a matched route and what matching found.
type Match struct {
	Route *Route
	// MatchedPath is the part of the path the route's path matched: the
	// prefix, or the regex's match (what strip_path removes). "" when the
	// route has no paths.
	MatchedPath string
	// Captures are the regex path's groups, in order (index 0 is the
	// whole match); CaptureNames has the names of the named ones ("" for
	// unnamed groups). Nil for prefix paths.
	Captures     []string
	CaptureNames []string
}

// RouteError is a route that could not be compiled and was left out.
type RouteError struct {
	Route *Route
	Err   error
}

// Error names the route and what is wrong with it.
func (e RouteError) Error() string {
	return fmt.Sprintf("route %s: %v", routeLabel(e.Route), e.Err)
}

func routeLabel(r *Route) string {
	if r.Name != "" {
		return fmt.Sprintf("%s (%s)", r.Name, r.ID)
	}
	return r.ID
}

// Compile builds a router from routes. A route that cannot be compiled (a
// bad regex) is left out and reported; the others still route, as Kong
// logs and skips a route it cannot add.
func Compile(routes []*Route) (*Router, []RouteError) {
	rt := &Router{entries: make([]entry, 0, len(routes))}
	var errs []RouteError
	for _, r := range routes {
		entries, err := compileRoute(r)
		if err != nil {
			errs = append(errs, RouteError{Route: r, Err: err})
			continue
		}
		rt.entries = append(rt.entries, entries...)
	}
	sort.SliceStable(rt.entries, func(i, j int) bool {
		a, b := &rt.entries[i], &rt.entries[j]
		if c := a.priority.compare(b.priority); c != 0 {
			return c > 0
		}
		return a.route.ID > b.route.ID
	})
	rt.index()
	return rt, errs
}

// Len returns the number of compiled entries (routes split by path group).
func (rt *Router) Len() int { return len(rt.entries) }

// compileRoute compiles r into one entry per path group.
func compileRoute(r *Route) ([]entry, error) {
	base := entry{route: r, methods: r.Methods, snis: make([]string, 0, len(r.SNIs))}
	for _, h := range r.Hosts {
		base.hosts = append(base.hosts, newHostMatcher(h))
	}
	for name, values := range r.Headers {
		m, err := newHeaderMatcher(name, values)
		if err != nil {
			return nil, err
		}
		base.headers = append(base.headers, m)
	}
	for _, s := range r.SNIs {
		base.snis = append(base.snis, strings.ToLower(strings.TrimSuffix(s, ".")))
	}
	groups := groupPaths(r.Paths)
	if len(groups) == 0 {
		base.priority = routePriority(r, nil)
		return []entry{base}, nil
	}
	out := make([]entry, 0, len(groups))
	for _, g := range groups {
		e := base
		e.priority = routePriority(r, g)
		e.paths = make([]pathMatcher, 0, len(g))
		for _, p := range g {
			m, err := newPathMatcher(p)
			if err != nil {
				return nil, err
			}
			e.paths = append(e.paths, m)
		}
		out = append(out, e)
	}
	return out, nil
}

// groupPaths splits a route's paths as Kong's traditional_compatible
// router does: all regexes together, then one group per prefix length, in
// order of first appearance. Within a group, regexes keep their order.
func groupPaths(paths []string) [][]string {
	var groups [][]string
	index := map[int]int{} // -1 for regexes, else prefix length -> group
	for _, p := range paths {
		key := len(p)
		if IsRegexPath(p) {
			key = -1
		}
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], p)
	}
	return groups
}

// match tries one entry and fills m when it matches; the cheap
// conditions come first.
func (e *entry) match(req *Request, m *Match) bool {
	if len(e.methods) > 0 && !contains(e.methods, req.Method) {
		return false
	}
	if len(e.hosts) > 0 && !e.matchHost(req) {
		return false
	}
	if len(e.snis) > 0 && req.HTTPS && !contains(e.snis, req.SNI) {
		return false
	}
	for i := range e.headers {
		if !e.headers[i].match(req.Headers) {
			return false
		}
	}
	if len(e.paths) == 0 {
		*m = Match{Route: e.route}
		return true
	}
	for i := range e.paths {
		if matched, groups, ok := e.paths[i].match(req.Path); ok {
			*m = Match{Route: e.route, MatchedPath: matched}
			if groups != nil {
				m.Captures, m.CaptureNames = captures(req.Path, groups), e.paths[i].re.SubexpNames()
			}
			return true
		}
	}
	return false
}

func (e *entry) matchHost(req *Request) bool {
	for i := range e.hosts {
		if e.hosts[i].match(req.Host, req.Port) {
			return true
		}
	}
	return false
}

// captures turns submatch indexes into strings ("" for groups that did
// not take part in the match).
func captures(s string, groups []int) []string {
	out := make([]string, len(groups)/2)
	for i := range out {
		if groups[2*i] >= 0 {
			out[i] = s[groups[2*i]:groups[2*i+1]]
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
