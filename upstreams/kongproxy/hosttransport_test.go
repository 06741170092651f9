package kongproxy

import "testing"

func TestHostWithoutDefaultPort(t *testing.T) {
	for _, c := range []struct{ addr, port, want string }{
		{"example.com:80", "80", "example.com"},
		{"example.com:8080", "80", "example.com:8080"},
		{"example.com:443", "443", "example.com"},
		{"example.com:443", "80", "example.com:443"},
		{"10.0.0.1:80", "80", "10.0.0.1"},
		{"[::1]:80", "80", "[::1]"},
		{"[::1]:81", "80", "[::1]:81"},
		{"example.com", "80", "example.com"},
	} {
		if got := hostWithoutDefaultPort(c.addr, c.port); got != c.want {
			t.Errorf("hostWithoutDefaultPort(%q, %q) = %q, want %q", c.addr, c.port, got, c.want)
		}
	}
}
