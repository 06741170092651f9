package routing

// priority is Kong's traditional_compatible rank of a route (one path
// group of it), compared field by field in this order; Kong packs the same
// fields, in the same order, into a 64-bit integer (kong/router/transform.lua,
// get_priority):
//
//  1. categories: how many of methods, hosts, headers, snis and paths the
//     route has (more is first);
//  2. plainHosts: the route has hosts and none of them is a wildcard;
//  3. headers: how many headers it matches (at most 255);
//  4. regex: its paths are regexes;
//  5. regexPriority: its regex_priority, for regex paths only;
//  6. length: the length of its prefix paths (longest first).
//
// Between equal priorities the ATC router takes the greater route id
// (routes are kept in a tree keyed by priority and UUID and walked from the
// top), and so do we.
type priority struct {
	categories    int
	plainHosts    bool
	headers       int
	regex         bool
	regexPriority int
	length        int
}

// maxHeaderCount caps the header count in the priority, as Kong does.
const maxHeaderCount = 255

// maxPathLength is the widest prefix length Kong's priority encodes (19 bits).
const maxPathLength = 0x7FFFF

// routePriority ranks r when matched by the given path group (all regexes,
// or all prefixes of one length; nil when the route has no paths).
func routePriority(r *Route, paths []string) priority {
	p := priority{}
	for _, present := range []bool{len(r.Methods) > 0, len(r.Hosts) > 0, len(r.Headers) > 0, len(r.SNIs) > 0, len(paths) > 0} {
		if present {
			p.categories++
		}
	}
	p.plainHosts = len(r.Hosts) > 0
	for _, h := range r.Hosts {
		for i := 0; i < len(h); i++ {
			if h[i] == '*' {
				p.plainHosts = false
			}
		}
	}
	p.headers = min(len(r.Headers), maxHeaderCount)
	if len(paths) > 0 {
		if IsRegexPath(paths[0]) {
			p.regex, p.regexPriority = true, r.RegexPriority
		} else {
			p.length = min(len(paths[0]), maxPathLength)
		}
	}
	return p
}

// compare returns a positive number when p ranks before q, negative when
// after, 0 when equal.
func (p priority) compare(q priority) int {
	for _, d := range [...]int{
		p.categories - q.categories,
		boolInt(p.plainHosts) - boolInt(q.plainHosts),
		p.headers - q.headers,
		boolInt(p.regex) - boolInt(q.regex),
		p.regexPriority - q.regexPriority,
		p.length - q.length,
	} {
		if d != 0 {
			return d
		}
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
