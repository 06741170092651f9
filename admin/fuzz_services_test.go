package admin_test

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// FuzzServicesRoutesAndConfig sends arbitrary bodies to the service, route
// and /config write endpoints, as JSON, form and YAML: nothing may panic or
// answer 5xx.
func FuzzServicesRoutesAndConfig(f *testing.F) {
	api := fuzzAPI(f, "")
	for _, method := range []string{"PUT /services/s", "PUT /routes/r"} {
		body := `{"host":"h.test"}`
		if method == "PUT /routes/r" {
			body = `{"paths":["/"],"service":{"name":"s"}}`
		}
		req := httptest.NewRequest(method[:3], method[4:], bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		api.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, seed := range []struct {
		kind uint8
		body string
	}{
		{0, `{"name":"a","url":"https://x.test:8443/p","tags":["t"]}`},
		{0, `{"paths":["~/a(?<n>\\d+)"],"headers":{"x":["1"]},"protocols":["grpcs"],"snis":["a.test"]}`},
		{0, `{"_format_version":"3.0","services":[{"host":"h","routes":[{"paths":["/"]}]}]}`},
		{0, `{"sources":[{"ip":"10.0.0.0/8","port":1}],"protocols":["tcp"],"service":{"name":"s"}}`},
		{1, `host=h&routes=1&paths[]=/x&service.name=s&headers.x=1`},
		{2, "_format_version: \"3.0\"\nupstreams:\n  - name: u\n    targets: [{target: \"10.0.0.1\"}]\n"},
		{2, "a: &a [*a, *a]\n"},
		{2, "_format_version: \"3.0\"\nservices: {name: x}\nroutes: [1, [2], {service: 3}]\n"},
	} {
		f.Add(seed.kind, seed.body)
	}
	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		ct := []string{"application/json", "application/x-www-form-urlencoded", "application/yaml"}[kind%3]
		for _, target := range []struct{ method, path string }{
			{"POST", "/services"}, {"PATCH", "/services/s"}, {"PUT", "/services/fuzzed"},
			{"POST", "/routes"}, {"PATCH", "/routes/r"}, {"POST", "/services/s/routes"}, {"PUT", "/routes/r/service"},
			{"POST", "/config"},
		} {
			fuzzSend(t, api, target.method, target.path, body, ct)
		}
	})
}
