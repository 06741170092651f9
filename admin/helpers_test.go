package admin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// adminConfig serves the Admin API on the instance's HTTP port and proxies
// /proxy to the upstream "u" on a second site.
const adminConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
	}
}
http://127.0.0.1:{HTTP} {
	kong_admin
}
http://127.0.0.1:{PROXY} {
	reverse_proxy {
		dynamic registry u
		lb_policy registry
	}
}
`

type env struct {
	t     *testing.T
	c     *testcaddy.Caddy
	base  string
	proxy int
}

func start(t *testing.T) *env {
	t.Helper()
	c := testcaddy.New(t)
	proxy := testcaddy.FreePort(t)
	c.Load(t, adminConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{PROXY}", fmt.Sprint(proxy))
	return &env{t: t, c: c, base: fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort), proxy: proxy}
}

// do sends a request; a non-string body is sent as JSON.
func (e *env) do(method, path string, body any, contentType ...string) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = bytes.NewBufferString(b), "application/json"
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	if len(contentType) > 0 && contentType[0] != "" {
		ct = contentType[0]
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// expect sends a request and compares status and the whole JSON body,
// after replacing generated ids and timestamps with placeholders.
func (e *env) expect(method, path string, body any, wantStatus int, wantBody string) map[string]any {
	e.t.Helper()
	status, got, _ := e.do(method, path, body)
	return e.compare(method+" "+path, status, got, wantStatus, wantBody)
}

// compare checks an answer's status and whole JSON body ("" = no body).
func (e *env) compare(what string, status int, got []byte, wantStatus int, wantBody string) map[string]any {
	e.t.Helper()
	if status != wantStatus {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, status, wantStatus, got)
	}
	if wantBody == "" {
		if len(got) != 0 {
			e.t.Fatalf("%s: body %s, want none", what, got)
		}
		return nil
	}
	var g, w any
	if err := json.Unmarshal(normalize(got), &g); err != nil {
		e.t.Fatalf("%s: body %s is not JSON", what, got)
	}
	if err := json.Unmarshal([]byte(wantBody), &w); err != nil {
		e.t.Fatalf("bad expected JSON %s: %v", wantBody, err)
	}
	if !reflect.DeepEqual(g, w) {
		e.t.Fatalf("%s: body\n got %s\nwant %s", what, normalize(got), wantBody)
	}
	var m map[string]any
	json.Unmarshal(got, &m)
	return m
}

var (
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tsRe   = regexp.MustCompile(`"(created_at|updated_at)":[0-9.]+`)
)

// normalize replaces UUIDs with "<id>" and timestamps with 0.
func normalize(b []byte) []byte {
	b = uuidRe.ReplaceAll(b, []byte(`<id>`))
	return tsRe.ReplaceAll(b, []byte(`"$1":0`))
}
