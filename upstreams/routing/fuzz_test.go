package routing

import (
	"net/http"
	"testing"
)

// FuzzMatch: for any method, host and path, matching never panics and the
// indexed match gives the same route as trying every entry in order.
func FuzzMatch(f *testing.F) {
	routes := []*Route{
		{ID: "1", Name: "prefix", Paths: []string{"/api", "/a"}},
		{ID: "2", Name: "host", Hosts: []string{"x.test", "y.test:8080"}, Paths: []string{"/api/v1"}},
		{ID: "3", Name: "wild", Hosts: []string{"*.test"}, Paths: []string{"/api"}},
		{ID: "4", Name: "regex", Paths: []string{`~/api/(?<n>\d+)`, "/r"}, RegexPriority: 3},
		{ID: "5", Name: "method", Methods: []string{"POST"}},
		{ID: "6", Name: "header", Headers: map[string][]string{"X-A": {"~*^b"}}, Paths: []string{"/"}},
		{ID: "7", Name: "hostonly", Hosts: []string{"z.test"}},
	}
	rt, errs := Compile(routes)
	if len(errs) != 0 {
		f.Fatal(errs)
	}
	for _, s := range [][3]string{{"GET", "x.test", "/api/v1/x"}, {"POST", "a.test", "/api/12"}, {"GET", "z.test", "//a/../api"}, {"GET", "", "*"}, {"GET", "x.test", "/%2e%2e/%7e"}} {
		f.Add(s[0], s[1], s[2], "b")
	}
	f.Fuzz(func(t *testing.T, method, host, path, header string) {
		h, port := SplitHostPort(host)
		req := &Request{Method: method, Host: h, Port: port, Path: NormalizePath(path), Headers: http.Header{"X-A": {header}}}
		var all Match
		got, found := rt.Match(req), rt.findAll(req, &all)
		if (got != nil) != found || got != nil && got.Route != all.Route {
			t.Fatalf("%s %s%s: indexed match %v, full scan %v (%v)", method, host, path, got, all, found)
		}
	})
}
