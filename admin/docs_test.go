package admin_test

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// adminDoc is the page whose curl sessions these tests run.
const adminDoc = "../docs/admin-api.md"

// TestDocCurlSession runs every curl line of the Admin API page's first
// session against a real instance and expects no error status.
func TestDocCurlSession(t *testing.T) { runDocSession(t, "## A session", 8) }

// TestDocServicesSession runs the curl lines of the Admin API page's
// services and routes section.
func TestDocServicesSession(t *testing.T) { runDocSession(t, "## Services and routes", 6) }

// runDocSession runs the first sh block after heading in adminDoc, which
// must have at least minLines curl lines.
func runDocSession(t *testing.T, heading string, minLines int) {
	raw, err := os.ReadFile(adminDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no %q section", adminDoc, heading)
	}
	_, after, _ = strings.Cut(after, "```sh\n")
	block, _, _ := strings.Cut(after, "```")
	e := start(t)
	testcaddy.StartBackend(t, "unused") // the session's targets need not be up
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if len(lines) < minLines {
		t.Fatalf("only %d curl lines in %s", len(lines), adminDoc)
	}
	for _, line := range lines {
		method, path, body, ct := parseCurl(t, line, e.base)
		status, got, _ := e.do(method, path, body, ct)
		if status >= 300 {
			t.Fatalf("%s\n-> %d %s", line, status, got)
		}
	}
}

// parseCurl understands the curl options the docs use: -s, -X, -H, -d
// (repeatable, form-encoded unless a Content-Type is given).
func parseCurl(t *testing.T, line, base string) (method, path string, body any, ct string) {
	t.Helper()
	args := splitShell(line)
	if args[0] != "curl" {
		t.Fatalf("not a curl line: %s", line)
	}
	method = "GET"
	var data []string
	for i := 1; i < len(args); i++ {
		switch args[i] {
		case "-s":
		case "-X":
			i++
			method = args[i]
		case "-H":
			i++
			if k, v, _ := strings.Cut(args[i], ": "); strings.EqualFold(k, "Content-Type") {
				ct = v
			}
		case "-d":
			i++
			data = append(data, args[i])
		default:
			u, err := url.Parse(args[i])
			if err != nil || u.Host != "127.0.0.1:8001" {
				t.Fatalf("unexpected curl argument %q", args[i])
			}
			path = u.RequestURI()
		}
	}
	if len(data) > 0 {
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
			if method == "GET" {
				method = "POST"
			}
		}
		body = []byte(strings.Join(data, "&"))
	}
	return method, path, body, ct
}

// splitShell splits a command line on spaces, honouring single quotes.
func splitShell(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, has := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, has = !quoted, true
		case r == ' ' && !quoted:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}
