package routing

import "testing"

func TestUpstreamPath(t *testing.T) {
	for _, c := range []struct {
		service, route string
		strip          bool
		handling       string
		request, want  string
	}{
		// Kong's documented table (Admin API reference, path_handling)
		{"/s", "/fv0", false, "v0", "/fv0req", "/s/fv0req"},
		{"/s", "/fv1", false, "v1", "/fv1req", "/sfv1req"},
		{"/s", "/tv0", true, "v0", "/tv0req", "/s/req"},
		{"/s", "/tv1", true, "v1", "/tv1req", "/sreq"},
		{"/s", "/fv0/", false, "v0", "/fv0/req", "/s/fv0/req"},
		{"/s", "/fv1/", false, "v1", "/fv1/req", "/sfv1/req"},
		{"/s", "/tv0/", true, "v0", "/tv0/req", "/s/req"},
		{"/s", "/tv1/", true, "v1", "/tv1/req", "/sreq"},
		// the seed: service path "/", route /api, strip_path
		{"/", "/api", true, "v0", "/api", "/"},
		{"/", "/api", true, "v0", "/api/", "/"},
		{"/", "/api", true, "v0", "/api/get", "/get"},
		{"/", "/api", false, "v0", "/api/get", "/api/get"},
		{"", "/api", true, "v0", "/api/get", "/get"},
		// a service path ending with a slash
		{"/s/", "/api", true, "v0", "/api", "/s"},
		{"/s/", "/api", true, "v0", "/api/", "/s/"},
		{"/s/", "/api", true, "v0", "/api/x", "/s/x"},
		{"/s/", "/api", true, "v0", "/apix", "/s/x"},
		{"/s/", "/api", false, "v0", "/api/x", "/s/api/x"},
		{"/s/", "/api", true, "v1", "/api/x", "/s/x"},
		{"/s/", "/api", true, "v1", "/apix", "/s/x"},
		// a service path without one: the trailing slash follows the request
		{"/s", "/api", true, "v0", "/api", "/s"},
		{"/s", "/api", true, "v0", "/api/", "/s/"},
		{"/s", "/api", false, "v0", "/api", "/s/api"},
		// stripping cannot climb above the service path
		{"/s", "/api", true, "v0", "/api../x", "/s/x"},
		// a route without paths: nothing to strip
		{"/s", "", true, "v0", "/x/y", "/s/x/y"},
		{"/s", "", true, "v0", "/", "/s"},
	} {
		r := &Route{StripPath: c.strip, PathHandling: c.handling}
		var paths []string
		if c.route != "" {
			paths = []string{c.route}
		}
		r.Paths = paths
		rt, _ := Compile([]*Route{r})
		m := rt.Match(&Request{Method: "GET", Path: c.request})
		if m == nil {
			t.Fatalf("route %q did not match %q", c.route, c.request)
		}
		if got := UpstreamPath(m, c.request, c.service); got != c.want {
			t.Errorf("service %q route %q strip %v %s, request %q: proxied %q, want %q",
				c.service, c.route, c.strip, c.handling, c.request, got, c.want)
		}
	}
}

// TestUpstreamPathWithRegexStrip: strip_path removes what the regex matched.
func TestUpstreamPathWithRegexStrip(t *testing.T) {
	rt, _ := Compile([]*Route{{StripPath: true, Paths: []string{`~/v\d+`}}})
	m := rt.Match(&Request{Method: "GET", Path: "/v2/users"})
	if got := UpstreamPath(m, "/v2/users", "/api"); got != "/api/users" {
		t.Errorf("proxied %q, want /api/users", got)
	}
}
