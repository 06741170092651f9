package routing

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// req builds a router request: "GET example.com:8000/path" style, with
// optional headers as "Name: value" strings.
func req(method, hostPath string, headers ...string) *Request {
	host, path, _ := strings.Cut(hostPath, "/")
	h, port := SplitHostPort(host)
	if port == 0 {
		port = 80
	}
	r := &Request{Method: method, Host: strings.ToLower(h), Port: port, Path: NormalizePath("/" + path), Headers: http.Header{}}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		r.Headers.Add(k, v)
	}
	return r
}

// compile compiles routes and fails the test on any route error.
func compile(t *testing.T, routes ...*Route) *Router {
	t.Helper()
	rt, errs := Compile(routes)
	for _, err := range errs {
		t.Fatal(err)
	}
	return rt
}

// matchName returns the name of the matched route, or "-".
func matchName(rt *Router, r *Request) string {
	if m := rt.Match(r); m != nil {
		return m.Route.Name
	}
	return "-"
}

type matchCase struct {
	req  *Request
	want string
}

func runMatches(t *testing.T, rt *Router, cases []matchCase) {
	t.Helper()
	for _, c := range cases {
		if got := matchName(rt, c.req); got != c.want {
			t.Errorf("%s %s%s (port %d, headers %v): matched %s, want %s",
				c.req.Method, c.req.Host, c.req.Path, c.req.Port, c.req.Headers, got, c.want)
		}
	}
}

func TestPriority(t *testing.T) {
	rt := compile(t,
		&Route{ID: "00000000-0000-0000-0000-000000000001", Name: "api", Paths: []string{"/api"}},
		&Route{ID: "00000000-0000-0000-0000-000000000002", Name: "api-v1", Paths: []string{"/api/v1"}},
		&Route{ID: "00000000-0000-0000-0000-000000000003", Name: "items-regex", Paths: []string{`~/api/items/\d+$`}},
		&Route{ID: "00000000-0000-0000-0000-000000000004", Name: "items-regex-high", Paths: []string{`~/api/items/4\d*$`}, RegexPriority: 10},
		&Route{ID: "00000000-0000-0000-0000-000000000005", Name: "host-and-path", Hosts: []string{"shop.test"}, Paths: []string{"/api"}},
		&Route{ID: "00000000-0000-0000-0000-000000000006", Name: "wildcard-host-and-path", Hosts: []string{"*.test"}, Paths: []string{"/api"}},
		&Route{ID: "00000000-0000-0000-0000-000000000007", Name: "one-header", Paths: []string{"/api"}, Headers: map[string][]string{"X-A": {"1"}}},
		&Route{ID: "00000000-0000-0000-0000-000000000008", Name: "two-headers", Paths: []string{"/api"}, Headers: map[string][]string{"X-A": {"1"}, "X-B": {"2"}}},
		&Route{ID: "00000000-0000-0000-0000-000000000009", Name: "method", Methods: []string{"POST"}, Paths: []string{"/api"}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "any.host/api/x"), "api"},
		{req("GET", "any.host/apix"), "api"},                            // prefixes have no segment boundary
		{req("GET", "any.host/api/v1/users"), "api-v1"},                 // longest prefix first
		{req("GET", "any.host/api/items/12"), "items-regex"},            // a regex before any prefix
		{req("GET", "any.host/api/items/42"), "items-regex-high"},       // higher regex_priority first
		{req("GET", "any.host/api/items/x"), "api"},                     // no regex matches
		{req("GET", "shop.test/api/v1/users"), "host-and-path"},         // two categories beat a longer prefix
		{req("GET", "cart.test/api/v1"), "wildcard-host-and-path"},      // wildcard host
		{req("GET", "shop.test/api/items/42"), "host-and-path"},         // categories beat regex
		{req("GET", "any.host/api/v1", "X-A: 1"), "one-header"},         // headers are a category
		{req("GET", "any.host/api", "X-A: 1", "X-B: 2"), "two-headers"}, // more headers first
		{req("GET", "shop.test/api", "X-A: 1"), "host-and-path"},        // plain host beats header count
		{req("GET", "cart.test/api", "X-A: 1"), "one-header"},           // ...a wildcard host does not
		{req("POST", "any.host/api/v1"), "method"},
	})
}

// TestPriorityPlainHostsOrder: with equal categories, a route whose hosts
// are all plain ranks above one with a wildcard; two plain routes tie and
// the greater id wins (Kong's ATC walks its tree from the top).
func TestPriorityTies(t *testing.T) {
	rt := compile(t,
		&Route{ID: "10000000-0000-0000-0000-000000000000", Name: "wild", Hosts: []string{"*.example.com"}},
		&Route{ID: "20000000-0000-0000-0000-000000000000", Name: "plain-low-id", Hosts: []string{"a.example.com"}},
		&Route{ID: "30000000-0000-0000-0000-000000000000", Name: "plain-high-id", Hosts: []string{"a.example.com", "b.example.com"}},
		&Route{ID: "40000000-0000-0000-0000-000000000000", Name: "suffix-wild", Hosts: []string{"example.*"}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "a.example.com/"), "plain-high-id"},
		{req("GET", "b.example.com/"), "plain-high-id"},
		{req("GET", "c.example.com/"), "wild"},
		{req("GET", "example.org/"), "suffix-wild"},
		{req("GET", "example.com/"), "suffix-wild"}, // "*.example.com" needs a label before it
	})
}

// TestPathsAreRankedOnTheirOwn: a route with paths of several kinds is
// split by regex / prefix length (Kong 3.x traditional_compatible), so
// its short prefix does not borrow the rank of its long one.
func TestPathsAreRankedOnTheirOwn(t *testing.T) {
	rt := compile(t,
		&Route{ID: "00000000-0000-0000-0000-00000000000a", Name: "mixed", Paths: []string{"/a", "/abc/def", `~/r/\d+`}},
		&Route{ID: "00000000-0000-0000-0000-00000000000b", Name: "abc", Paths: []string{"/abc"}},
	)
	if rt.Len() != 4 {
		t.Fatalf("%d entries, want 4 (mixed split in 3)", rt.Len())
	}
	runMatches(t, rt, []matchCase{
		{req("GET", "h/abc/def/x"), "mixed"},
		{req("GET", "h/abc/x"), "abc"},
		{req("GET", "h/a/x"), "mixed"},
		{req("GET", "h/r/1"), "mixed"},
	})
	m := rt.Match(req("GET", "h/abc/def/x"))
	if m.MatchedPath != "/abc/def" {
		t.Errorf("matched path %q, want /abc/def", m.MatchedPath)
	}
}

func TestHosts(t *testing.T) {
	rt := compile(t,
		&Route{ID: "1", Name: "exact", Hosts: []string{"Example.COM"}},
		&Route{ID: "2", Name: "port", Hosts: []string{"example.com:8443"}, Paths: []string{"/"}},
		&Route{ID: "3", Name: "sub", Hosts: []string{"*.example.com"}},
		&Route{ID: "4", Name: "tld", Hosts: []string{"example.*"}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "example.com/"), "exact"},
		{req("GET", "EXAMPLE.com:9000/"), "exact"}, // case-insensitive, any port
		{req("GET", "example.com:8443/"), "port"},
		{req("GET", "api.example.com/"), "sub"},
		{req("GET", "a.b.example.com/"), "sub"},
		{req("GET", "example.net/"), "tld"},
		{req("GET", "myexample.com/"), "-"},
		{req("GET", "other.org/"), "-"},
	})
}

func TestMethods(t *testing.T) {
	rt := compile(t,
		&Route{ID: "1", Name: "read", Methods: []string{"GET", "HEAD"}, Paths: []string{"/r"}},
		&Route{ID: "2", Name: "write", Methods: []string{"POST"}, Paths: []string{"/r"}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "h/r"), "read"},
		{req("HEAD", "h/r"), "read"},
		{req("POST", "h/r"), "write"},
		{req("DELETE", "h/r"), "-"},
		{req("get", "h/r"), "-"}, // methods are exact
	})
}

func TestHeaders(t *testing.T) {
	rt := compile(t,
		&Route{ID: "1", Name: "version", Headers: map[string][]string{"x-version": {"V1", "v2"}}},
		&Route{ID: "2", Name: "regex", Headers: map[string][]string{"X-Client": {`~*^mobile-(ios|android)$`}}},
		&Route{ID: "3", Name: "both", Headers: map[string][]string{"X-Version": {"v3"}, "X-Client": {"web"}}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "h/", "X-Version: v1"), "version"},
		{req("GET", "h/", "X-Version: V2"), "version"}, // values ignore case
		{req("GET", "h/", "X-Version: v9", "X-Version: v2"), "version"},
		{req("GET", "h/", "X-Client: Mobile-IOS"), "regex"}, // regexes ignore case
		{req("GET", "h/", "X-Client: mobile-web"), "-"},
		{req("GET", "h/", "X-Version: v3", "X-Client: web"), "both"},
		{req("GET", "h/", "X-Version: v3"), "-"}, // every header is required
		{req("GET", "h/"), "-"},
	})
}

func TestSNIs(t *testing.T) {
	rt := compile(t, &Route{ID: "1", Name: "sni", SNIs: []string{"secure.test."}, Paths: []string{"/"}})
	plain := req("GET", "h/")
	tls := req("GET", "h/")
	tls.HTTPS, tls.SNI = true, "secure.test"
	other := req("GET", "h/")
	other.HTTPS, other.SNI = true, "other.test"
	runMatches(t, rt, []matchCase{{plain, "sni"}, {tls, "sni"}, {other, "-"}})
}

func TestRegexPaths(t *testing.T) {
	rt := compile(t,
		&Route{ID: "1", Name: "named", Paths: []string{`~/items/(?<id>\d+)/(\w+)$`}},
		&Route{ID: "2", Name: "python-named", Paths: []string{`~/users/(?P<user>[a-z]+)`}},
	)
	runMatches(t, rt, []matchCase{
		{req("GET", "h/items/42/edit"), "named"},
		{req("GET", "h/x/items/42/edit"), "-"}, // anchored at the start
		{req("GET", "h/users/bob/settings"), "python-named"},
	})
	m := rt.Match(req("GET", "h/items/42/edit"))
	if fmt.Sprint(m.Captures) != "[/items/42/edit 42 edit]" || m.CaptureNames[1] != "id" {
		t.Errorf("captures %q names %q", m.Captures, m.CaptureNames)
	}
	if m := rt.Match(req("GET", "h/users/bob/settings")); m.MatchedPath != "/users/bob" {
		t.Errorf("matched path %q, want /users/bob", m.MatchedPath)
	}
}

// TestUnsupportedRegexes: PCRE-only constructs are rejected with their
// name, the route is left out and the others still route.
func TestUnsupportedRegexes(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{`~/a(?=b)`, "lookahead"},
		{`~/a(?!b)`, "negative lookahead"},
		{`~/(?<=a)b`, "lookbehind"},
		{`~/(a)\1`, `backreference \1`},
		{`~/a++`, "possessive"},
		{`~/(?>a)`, "atomic group"},
		{`~/a[`, "missing closing ]"},
	} {
		_, errs := Compile([]*Route{{ID: "1", Paths: []string{c.path}}})
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("path %q: errors %v, want one mentioning %q", c.path, errs, c.want)
		}
	}
	for _, ok := range []string{`~/a\(?=b`, `~/a\++`, `~/(?i)abc`, "/plain"} {
		if _, errs := Compile([]*Route{{ID: "1", Paths: []string{ok}}}); len(errs) != 0 {
			t.Errorf("path %q: errors %v, want none", ok, errs)
		}
	}
	rt, errs := Compile([]*Route{
		{ID: "1", Name: "bad", Paths: []string{`~/x(?=y)`}},
		{ID: "2", Name: "good", Paths: []string{"/x"}},
		{ID: "3", Name: "bad-header", Headers: map[string][]string{"X": {`~*(a)\1`}}},
	})
	if len(errs) != 2 || errs[0].Route.Name != "bad" || errs[1].Route.Name != "bad-header" {
		t.Fatalf("errors %v, want routes bad and bad-header", errs)
	}
	runMatches(t, rt, []matchCase{{req("GET", "h/xy"), "good"}})
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"/":              "/",
		"":               "/",
		"/a/b":           "/a/b",
		"/a//b":          "/a/b",
		"/a/./b/":        "/a/b/",
		"/a/../b":        "/b",
		"/../../a":       "/a",
		"/a/b/..":        "/a/",
		"//api///v1//":   "/api/v1/",
		"/%7euser/a%2fb": "/~user/a%2Fb", // unreserved decoded, reserved kept
		"/a%2E%2E/b":     "/a../b",
		"/%2e%2e/b":      "/b", // decoded dots are dot segments
		"/a%zz%4":        "/a%zz%4",
		"/caf%c3%a9":     "/caf%C3%A9",
	} {
		if got := NormalizePath(in); got != want {
			t.Errorf("NormalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTTPSOnly: Kong redirects plain HTTP only for routes without http.
func TestHTTPSOnly(t *testing.T) {
	for _, c := range []struct {
		protocols []string
		want      bool
	}{{[]string{"https"}, true}, {[]string{"http", "https"}, false}, {[]string{"http"}, false}, {[]string{"grpcs"}, true}} {
		if got := (&Route{Protocols: c.protocols}).HTTPSOnly(); got != c.want {
			t.Errorf("protocols %v: HTTPSOnly %v, want %v", c.protocols, got, c.want)
		}
	}
}

// BenchmarkMatch measures a match among n routes, each with a host and a
// prefix path, the request matching the lowest-ranked one; the host
// index makes it independent of n. "paths-only" routes have no hosts, so
// every one of them is tried.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, hosts := range []bool{true, false} {
			name := fmt.Sprintf("%d-routes-hosts", n)
			if !hosts {
				name = fmt.Sprintf("%d-routes-paths-only", n)
			}
			b.Run(name, func(b *testing.B) {
				var routes []*Route
				for i := range n {
					r := &Route{ID: fmt.Sprintf("%08d", i), Name: fmt.Sprint(i), Paths: []string{fmt.Sprintf("/p%d", i)}}
					if hosts {
						r.Hosts = []string{fmt.Sprintf("h%d.test", i)}
					}
					routes = append(routes, r)
				}
				rt, _ := Compile(routes)
				r := req("GET", "h0.test/p0/x")
				b.ReportAllocs()
				for b.Loop() {
					if rt.Match(r) == nil {
						b.Fatal("no match")
					}
				}
			})
		}
	}
}

// TestManyPrefixLengths: a path with more prefixes in use than the
// candidate lists Match merges on the stack is matched by trying every
// entry, with the same answer (the longest prefix).
func TestManyPrefixLengths(t *testing.T) {
	var routes []*Route
	path := "/" + strings.Repeat("a", maxCandidateLists+10)
	for l := 2; l <= len(path); l++ {
		routes = append(routes, &Route{ID: fmt.Sprint(l), Name: fmt.Sprint(l), Paths: []string{path[:l]}})
	}
	rt := compile(t, routes...)
	runMatches(t, rt, []matchCase{
		{req("GET", "h"+path+"/x"), fmt.Sprint(len(path))},
		{req("GET", "h/aaa"), "4"},
	})
}
