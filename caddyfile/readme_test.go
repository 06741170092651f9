package caddyfile_test

import (
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestReadmeCaddyfilesAdapt adapts every whole Caddyfile of the README (the
// ```caddyfile blocks that open with the global options block), so an
// example a user copies is one Caddy accepts.
func TestReadmeCaddyfilesAdapt(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(raw), "```caddyfile\n")[1:]
	adapted := 0
	for i, b := range blocks {
		example, _, _ := strings.Cut(b, "```")
		if !strings.HasPrefix(example, "{") {
			continue // a fragment (one directive), not a whole Caddyfile
		}
		adapted++
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(example), nil); err != nil {
			t.Errorf("README Caddyfile example %d does not adapt: %v\n%s", i+1, err, example)
		}
	}
	if adapted == 0 {
		t.Fatal("README has no whole Caddyfile example")
	}
	t.Logf("%d whole Caddyfile examples adapted", adapted)
}
