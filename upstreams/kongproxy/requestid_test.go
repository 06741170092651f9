package kongproxy

import "testing"

// TestRequestIDs: ids are 32 lowercase hex digits, share the process's
// prefix, and do not repeat.
func TestRequestIDs(t *testing.T) {
	g := newRequestIDs()
	seen := map[string]bool{}
	for range 10000 {
		id := g.id()
		if len(id) != 32 || id[:16] != string(g.prefix[:]) {
			t.Fatalf("id %q: want 32 hex digits starting with the prefix %s", id, g.prefix[:])
		}
		for _, c := range id {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				t.Fatalf("id %q is not lowercase hex", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}
