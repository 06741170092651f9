package ingress_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// TestCaddyfileBlock: the kubernetes block of the upstreams global option
// becomes the app's "kubernetes" field.
func TestCaddyfileBlock(t *testing.T) {
	cfg := testcaddy.Adapt(t, `{
	upstreams {
		kubernetes {
			kubeconfig /etc/kube/config
			ingress_class internal
			watch_namespaces a b
			watch_namespaces c
			publish_service kong/kong-proxy
			publish_address 203.0.113.10 proxy.example
		}
	}
}`)
	var doc struct {
		Apps struct {
			Upstreams struct {
				Kubernetes map[string]any `json:"kubernetes"`
			} `json:"upstreams"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"kubeconfig": "/etc/kube/config", "ingress_class": "internal",
		"watch_namespaces": []any{"a", "b", "c"}, "publish_service": "kong/kong-proxy",
		"publish_address": []any{"203.0.113.10", "proxy.example"},
	}
	if !reflect.DeepEqual(doc.Apps.Upstreams.Kubernetes, want) {
		t.Errorf("kubernetes: %v\nwant %v", doc.Apps.Upstreams.Kubernetes, want)
	}
}

// TestConfigErrors: mistakes fail the config load with the reason.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ block, want string }{
		{"unknown x", "unrecognized kubernetes option 'unknown'"},
		{"ingress_class", "wrong argument count"},
		{"ingress_class a b", "wrong argument count"},
	} {
		_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(`{
	upstreams {
		kubernetes {
			`+c.block+`
		}
	}
}`), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.block, err, c.want)
		}
	}
	for _, c := range []struct{ fields, want string }{
		{`"publish_service": "kong-proxy"`, "publish_service: expected namespace/name"},
		{`"publish_address": ["a/b"]`, "publish_address: expected an IP address or a hostname"},
		{`"kubeconfig": "/nonexistent/kubeconfig"`, "kubeconfig /nonexistent/kubeconfig"},
	} {
		err := caddy.Validate(&caddy.Config{AppsRaw: caddy.ModuleMap{"upstreams": json.RawMessage(
			`{"store":{"module":"bolt","path":"` + t.TempDir() + `/r.db"},"kubernetes":{` + c.fields + `}}`)}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.fields, err, c.want)
		}
	}
}
