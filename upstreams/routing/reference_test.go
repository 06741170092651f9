package routing

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// kongPriority is Kong's get_priority (kong/router/transform.lua) for one
// path group of a route, packed into 64 bits exactly as Kong packs it.
func kongPriority(r *Route, paths []string) uint64 {
	var weight, plain, regex, headers, length uint64
	for _, present := range []bool{len(r.Methods) > 0, len(r.Hosts) > 0, len(r.Headers) > 0, len(r.SNIs) > 0, len(paths) > 0} {
		if present {
			weight++
		}
	}
	headers = uint64(min(len(r.Headers), 255))
	if len(r.Hosts) > 0 && !strings.Contains(strings.Join(r.Hosts, ""), "*") {
		plain = 1
	}
	priority := uint64(0)
	if len(paths) > 0 {
		if strings.HasPrefix(paths[0], "~") {
			regex, priority = 1, uint64(r.RegexPriority)
		} else {
			length = uint64(len(paths[0]))
		}
	}
	return weight<<61 | plain<<60 | headers<<52 | regex<<51 | priority<<19 | length&0x7FFFF
}

// referenceMatch picks the route Kong's ATC router would: among the path
// groups matching the request (naively evaluated), the greatest
// (priority, route id).
func referenceMatch(routes []*Route, req *Request) string {
	best, bestPriority, bestID := "-", uint64(0), ""
	for _, r := range routes {
		if len(r.Methods) > 0 && !contains(r.Methods, req.Method) {
			continue
		}
		if len(r.Hosts) > 0 && !referenceHostMatch(r.Hosts, req.Host) {
			continue
		}
		if v, ok := r.Headers["X-A"]; ok && !strings.EqualFold(req.Headers.Get("X-A"), v[0]) {
			continue
		}
		groups := map[int][]string{}
		for _, p := range r.Paths {
			k := len(p)
			if strings.HasPrefix(p, "~") {
				k = -1
			}
			groups[k] = append(groups[k], p)
		}
		if len(r.Paths) == 0 {
			groups[0] = nil
		}
		for _, g := range groups {
			if len(g) > 0 && !referencePathMatch(g, req.Path) {
				continue
			}
			p := kongPriority(r, g)
			if best == "-" || p > bestPriority || p == bestPriority && r.ID > bestID {
				best, bestPriority, bestID = r.Name, p, r.ID
			}
		}
	}
	return best
}

func referenceHostMatch(hosts []string, host string) bool {
	for _, h := range hosts {
		switch {
		case strings.HasPrefix(h, "*"):
			if strings.HasSuffix(host, h[1:]) {
				return true
			}
		case strings.HasSuffix(h, "*"):
			if strings.HasPrefix(host, h[:len(h)-1]) {
				return true
			}
		case h == host:
			return true
		}
	}
	return false
}

func referencePathMatch(paths []string, path string) bool {
	for _, p := range paths {
		if strings.HasPrefix(p, "~") {
			if regexp.MustCompile("^" + p[1:]).MatchString(path) {
				return true
			}
		} else if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// TestMatchesKongsPriorityOrder compares the router with the reference
// above on random route sets (many ties on purpose) and requests.
func TestMatchesKongsPriorityOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pick := func(pool []string, n int) []string {
		var out []string
		for range rng.IntN(n + 1) {
			if v := pool[rng.IntN(len(pool))]; !contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	paths := []string{"/a", "/ab", "/abc", "/a/b", "/b", `~/a\w*$`, `~/ab?c`, `~/[ab]+/`, `~/a/(?<x>\w)`}
	hosts := []string{"x.test", "y.test", "*.test", "x.*"}
	methods := []string{"GET", "POST"}
	reqPaths := []string{"/a", "/ab", "/abc", "/abcd", "/a/b", "/a/bc", "/b", "/ba/", "/c"}
	reqHosts := []string{"x.test", "y.test", "z.test", "x.org"}
	compared, matched := 0, 0
	for round := range 40 {
		var routes []*Route
		for i := range 30 {
			r := &Route{ID: fmt.Sprintf("%02d", rng.IntN(100)) + fmt.Sprintf("-%02d", i), Name: fmt.Sprint("r", i),
				Paths: pick(paths, 3), Hosts: pick(hosts, 2), Methods: pick(methods, 1), RegexPriority: rng.IntN(3)}
			if rng.IntN(4) == 0 {
				r.Headers = map[string][]string{"X-A": {"1"}}
			}
			routes = append(routes, r)
		}
		rt := compile(t, routes...)
		for range 100 {
			var headers []string
			if rng.IntN(2) == 0 {
				headers = []string{"X-A: 1"}
			}
			r := req(methods[rng.IntN(2)], reqHosts[rng.IntN(len(reqHosts))]+reqPaths[rng.IntN(len(reqPaths))], headers...)
			want, got := referenceMatch(routes, r), matchName(rt, r)
			if got != want {
				t.Fatalf("round %d: %s %s%s %v: router matched %s, Kong's order gives %s", round, r.Method, r.Host, r.Path, r.Headers, got, want)
			}
			compared++
			if want != "-" {
				matched++
			}
		}
	}
	t.Logf("%d requests compared over 40 sets of 30 random routes, %d matched a route", compared, matched)
	if matched < compared/2 {
		t.Errorf("only %d of %d requests matched: the random routes test little", matched, compared)
	}
}
