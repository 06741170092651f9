package caddyfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestDocCaddyfilesAdapt adapts every whole Caddyfile of README.md and
// docs/*.md (the ```caddyfile blocks that open with the global options
// block), so an example a user copies is one Caddy accepts.
func TestDocCaddyfilesAdapt(t *testing.T) {
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	adapted := 0
	for _, page := range append([]string{"../README.md"}, pages...) {
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		blocks := strings.Split(string(raw), "```caddyfile\n")[1:]
		for i, b := range blocks {
			example, _, _ := strings.Cut(b, "```")
			if !strings.HasPrefix(example, "{") {
				continue // a fragment (one directive), not a whole Caddyfile
			}
			adapted++
			if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(example), nil); err != nil {
				t.Errorf("%s: Caddyfile example %d does not adapt: %v\n%s", page, i+1, err, example)
			}
		}
	}
	if adapted == 0 {
		t.Fatal("no whole Caddyfile example in README.md or docs/")
	}
	t.Logf("%d whole Caddyfile examples adapted", adapted)
}
