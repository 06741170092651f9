package testcaddy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SeedYAML returns the repository's testdata/kong.yaml (the seed example:
// service Upstream-Example, route /api with strip_path, upstream
// upstream-example with two targets of weight 100) with its two local
// targets replaced by the given backends. root is the relative path from
// the calling test's package to the repository's root.
func SeedYAML(t testing.TB, root string, a, b *Backend) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "testdata", "kong.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("127.0.0.1:9001", a.Addr, "127.0.0.1:9002", b.Addr).Replace(string(raw))
	if !strings.Contains(doc, a.Addr) || !strings.Contains(doc, b.Addr) || !strings.Contains(doc, "strip_path: true") {
		t.Fatalf("testdata/kong.yaml is not the seed example any more:\n%s", raw)
	}
	return doc
}
