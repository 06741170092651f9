package schema

import "testing"

func TestRoutingTypedefs(t *testing.T) {
	for _, tc := range []struct {
		check func(any) string
		in    string
		want  string
	}{
		{CheckHost, "example.com", ""},
		{CheckHost, "10.0.0.1", ""},
		{CheckHost, "::1", ""},
		{CheckHost, "[::1]", ""},
		{CheckHost, "example.com:80", "must not have a port"},
		{CheckHost, "example.com:abc", "must not have a port"},
		{CheckHost, "[::1]:80", "must not have a port"},
		{CheckHost, "foo bar:80", "invalid value: foo bar:80"},
		{CheckHost, "bad-.com", "invalid value: bad-.com"},
		{CheckWildcardHost, "*.example.com", ""},
		{CheckWildcardHost, "example.*", ""},
		{CheckWildcardHost, "example.com:8080", ""},
		{CheckWildcardHost, "a.*.com", "invalid wildcard: must be placed at leftmost or rightmost label"},
		{CheckWildcardHost, "*.a.*", "invalid wildcard: must have at most one wildcard"},
		{CheckUTF8Name, "my-service_1.v2~x", ""},
		{CheckUTF8Name, "café", ""},
		{CheckUTF8Name, "a/b", "invalid value 'a/b': the only accepted ascii characters are alphanumerics or ., -, _, and ~"},
		{CheckUTF8Name, "a\xffb", "invalid utf-8 character sequence detected at position 2"},
		{CheckRouterPath, "/api", ""},
		{CheckRouterPath, "~/items/(?<id>\\d+)$", ""},
		{CheckRouterPath, "/a/./b", "non-normalized path, consider use '/a/b' instead"},
		{CheckRouterPath, "/%7euser", "non-normalized path, consider use '/~user' instead"},
		{CheckRouterPath, "/a%2fb", "non-normalized path, consider use '/a%2Fb' instead"},
		{CheckRouterPath, "/a%zz", "invalid url-encoded value: '%zz'"},
		{CheckRouterPath, "api", "should start with: / (fixed path) or ~/ (regex path)"},
		{CheckHTTPMethod, "GET", ""},
		{CheckHTTPMethod, "get", "invalid value: get"},
		{CheckIPOrCIDR, "10.0.0.0/8", ""},
		{CheckIPOrCIDR, "::1", ""},
		{CheckIPOrCIDR, "10.0.0.0/33", "invalid ip or cidr range: '10.0.0.0/33'"},
	} {
		if got := tc.check(tc.in); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
