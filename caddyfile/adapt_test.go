package caddyfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-upstreams/caddy-upstreams"
)

// TestAdapt adapts every testdata/adapt/*.caddytest file: a Caddyfile, a
// line of ten dashes, then the expected JSON (as `caddy adapt --pretty`
// prints it) or, when that part does not start with "{", an expected error
// substring.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("../testdata/adapt/*.caddytest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.SplitN(string(raw), "----------", 2)
			if len(parts) != 2 {
				t.Fatalf("%s: missing the ---------- separator", file)
			}
			input, expected := parts[0], strings.TrimSpace(parts[1])
			if strings.HasPrefix(expected, "{") {
				if !caddytest.CompareAdapt(t, file, input, "caddyfile", expected) {
					t.Fail()
				}
				return
			}
			_, _, err = caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
			if err == nil || !strings.Contains(err.Error(), expected) {
				t.Fatalf("adapt error = %v, want one containing %q", err, expected)
			}
		})
	}
}

// TestExampleCaddyfilesAdapt keeps the example configs of testdata/ (the
// main job's Caddyfile, reverse_proxy.Caddyfile) valid.
func TestExampleCaddyfilesAdapt(t *testing.T) {
	files, err := filepath.Glob("../testdata/*Caddyfile")
	if err != nil || len(files) < 2 {
		t.Fatalf("example Caddyfiles: %v %v", files, err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, nil); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
