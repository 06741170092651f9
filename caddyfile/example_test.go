package caddyfile_test

import (
	"encoding/json"

	"fmt"
	"github.com/caddyserver/caddy/v2"
	"os"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// TestExampleCaddyfileServes runs the README's main job, testdata/Caddyfile
// (with free ports in place of 2019, 8000, 9001 and 9002), and checks that
// /api alternates between the two demo backends.
func TestExampleCaddyfileServes(t *testing.T) {
	raw, err := os.ReadFile("../testdata/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	c := testcaddy.New(t)
	b1, b2 := testcaddy.FreePort(t), testcaddy.FreePort(t)
	cfg := strings.NewReplacer(
		"localhost:2019", "localhost:{ADMIN}",
		":8000", ":{HTTP}",
		"9001", fmt.Sprint(b1),
		"9002", fmt.Sprint(b2),
	).Replace(string(raw))
	c.Load(t, cfg)
	var got []string
	for i := 0; i < 20; i++ {
		status, body := c.Get(t, "/api/anything")
		if status != 200 {
			t.Fatalf("GET /api/anything: %d %q", status, body)
		}
		got = append(got, strings.Fields(body)[1])
		if !strings.Contains(body, " /anything") {
			t.Fatalf("prefix not stripped: %q", body)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("/api did not alternate: %v", got)
		}
	}
}

// TestReadmeJSONExampleValidates keeps the README's JSON example loadable.
func TestReadmeJSONExampleValidates(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "### JSON\n\n```json\n")
	if !ok {
		t.Fatal("README has no JSON example")
	}
	example, _, _ := strings.Cut(after, "```")
	cfg := new(caddy.Config)
	if err := json.Unmarshal([]byte(example), cfg); err != nil {
		t.Fatalf("README JSON example: %v", err)
	}
	if err := caddy.Validate(cfg); err != nil {
		t.Fatalf("README JSON example does not validate: %v", err)
	}
}
