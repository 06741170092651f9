package admin_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/admin"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// fuzzAPI starts Caddy with an upstreams app (a fresh bolt store plus
// the given options) and returns the Admin API to call directly.
func fuzzAPI(f *testing.F, options string) *admin.API {
	c := testcaddy.New(f)
	c.Load(f, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}`+options+`
	}
}`, "{DB}", filepath.Join(f.TempDir(), "fuzz.db"))
	return admin.NewAPI("")
}

// fuzzSend serves one request and fails on a 5xx answer.
func fuzzSend(t *testing.T, api *admin.API, method, path, body, ct string) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if rec.Code >= http.StatusInternalServerError {
		t.Fatalf("%s %s with %q (%s): %d %s", method, path, body, ct, rec.Code, rec.Body)
	}
}

// FuzzDecodeAndValidate sends arbitrary bodies, in every accepted encoding,
// to the write endpoints: nothing may panic or answer 5xx.
func FuzzDecodeAndValidate(f *testing.F) {
	api := fuzzAPI(f, `
		upstream u {
			target 127.0.0.1:1
		}`)
	for _, seed := range []struct {
		kind uint8
		body string
	}{
		{0, `{"name":"a","healthchecks":{"active":{"timeout":2}}}`},
		{0, `{"name":"b","hash_on":"header","hash_on_header":"X"}`},
		{0, `{"target":"[::1]:80","weight":1}`},
		{0, `{"name":null,"tags":[null,1,"x"]}`},
		{0, `{"healthchecks":{"active":{"headers":{"a":["b"]}}}}`},
		{1, `name=c&tags[]=x&healthchecks.active.healthy.interval=3`},
		{1, `target=1.2.3.4&weight=&tags[2]=z`},
		{1, `healthchecks.active=1&healthchecks.active.type=tcp`},
		{2, "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nd\r\n--B--\r\n"},
		{3, `{"weight":1e400}`},
	} {
		f.Add(seed.kind, seed.body)
	}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		ct := []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=B", "application/json; charset=utf-8"}[kind%4]
		for _, target := range []struct{ method, path string }{
			{"POST", "/upstreams"}, {"PATCH", "/upstreams/u"}, {"PUT", "/upstreams/fuzzed"},
			{"POST", "/upstreams/u/targets"}, {"PATCH", "/upstreams/u/targets/127.0.0.1:1"},
		} {
			fuzzSend(t, api, target.method, target.path, body, ct)
		}
	})
}
