package routing

import "slices"

// index fills byHost, byPrefix, lengths and others; every list of
// entry indexes is ascending (priority order).
func (rt *Router) index() {
	rt.byHost, rt.byPrefix = map[string][]int{}, map[string][]int{}
	lengths := map[int]bool{}
	for i := range rt.entries {
		e := &rt.entries[i]
		switch {
		case e.exactHostsOnly():
			for j, h := range e.hosts {
				if !slices.ContainsFunc(e.hosts[:j], func(g hostMatcher) bool { return g.value == h.value }) {
					rt.byHost[h.value] = append(rt.byHost[h.value], i)
				}
			}
		case e.prefixPathsOnly():
			for j, p := range e.paths {
				if !slices.ContainsFunc(e.paths[:j], func(q pathMatcher) bool { return q.prefix == p.prefix }) {
					rt.byPrefix[p.prefix] = append(rt.byPrefix[p.prefix], i)
					lengths[len(p.prefix)] = true
				}
			}
		default:
			rt.others = append(rt.others, i)
		}
	}
	for l := range lengths {
		rt.lengths = append(rt.lengths, l)
	}
	slices.Sort(rt.lengths)
}

// prefixPathsOnly reports whether the entry has paths, none a regex.
func (e *entry) prefixPathsOnly() bool {
	for i := range e.paths {
		if e.paths[i].re != nil {
			return false
		}
	}
	return len(e.paths) > 0
}

// exactHostsOnly reports whether the entry has hosts, none a wildcard.
func (e *entry) exactHostsOnly() bool {
	for i := range e.hosts {
		if e.hosts[i].wildcard() {
			return false
		}
	}
	return len(e.hosts) > 0
}

// maxCandidateLists bounds the candidate lists merged on the stack; a
// request with more (a path that has more distinct prefix lengths in use)
// tries every entry instead, which gives the same answer.
const maxCandidateLists = 32

// Match returns the highest-priority route matching req, or nil.
func (rt *Router) Match(req *Request) *Match {
	m := new(Match)
	if !rt.Find(req, m) {
		return nil
	}
	return m
}

// Find is Match without an allocation: it fills m with the
// highest-priority route matching req and reports whether there was one.
func (rt *Router) Find(req *Request, m *Match) bool {
	var buf [maxCandidateLists][]int
	lists := append(buf[:0], rt.byHost[req.Host], rt.others)
	for _, l := range rt.lengths {
		if l > len(req.Path) {
			break
		}
		if c, ok := rt.byPrefix[req.Path[:l]]; ok {
			if len(lists) == maxCandidateLists {
				return rt.findAll(req, m)
			}
			lists = append(lists, c)
		}
	}
	for {
		// the lowest index at the head of a list is the next candidate
		best := -1
		for k := range lists {
			if len(lists[k]) > 0 && (best < 0 || lists[k][0] < lists[best][0]) {
				best = k
			}
		}
		if best < 0 {
			return false
		}
		i := lists[best][0]
		lists[best] = lists[best][1:]
		if rt.entries[i].match(req, m) {
			return true
		}
	}
}

// findAll tries every entry in priority order.
func (rt *Router) findAll(req *Request, m *Match) bool {
	for i := range rt.entries {
		if rt.entries[i].match(req, m) {
			return true
		}
	}
	return false
}
