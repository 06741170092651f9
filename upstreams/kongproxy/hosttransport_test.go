package kongproxy

import "testing"

func TestHostHeader(t *testing.T) {
	for _, c := range []struct{ name, port, defaultPort, want string }{
		{"example.com", "80", "80", "example.com"},
		{"example.com", "8080", "80", "example.com:8080"},
		{"example.com", "443", "443", "example.com"},
		{"example.com", "443", "80", "example.com:443"},
		{"10.0.0.1", "80", "80", "10.0.0.1"},
		{"::1", "80", "80", "[::1]"},
		{"::1", "81", "80", "[::1]:81"},
		{"[::1]", "81", "80", "[::1]:81"},
		{"[::1]", "80", "80", "[::1]"},
	} {
		if got := hostHeader(c.name, c.port, c.defaultPort); got != c.want {
			t.Errorf("hostHeader(%q, %q, %q) = %q, want %q", c.name, c.port, c.defaultPort, got, c.want)
		}
	}
}
