package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// listenersConfig has the Admin API on the HTTP port and kong_proxy on a
// plain and a TLS site.
const listenersConfig = `{` + testcaddy.GlobalOptions + `
	servers {
		protocols h1 h2
	}
	upstreams {
		store bolt {DB}
	}
}
http://127.0.0.1:{HTTP} {
	bind 127.0.0.1
	kong_admin
}
http://127.0.0.1:{PROXY} {
	bind 127.0.0.1
	kong_proxy
}
https://127.0.0.1:{TLS} {
	bind 127.0.0.1
	tls internal
	kong_proxy
}
`

// kongListener is a listener as Kong renders it in GET /'s configuration.
func kongListener(ip string, port int, ssl, http2 bool) map[string]any {
	m := map[string]any{"ip": ip, "port": float64(port), "ssl": ssl, "http2": http2}
	for _, f := range []string{"proxy_protocol", "deferred", "bind", "reuseport", "backlog=%d+", "ipv6only=on",
		"ipv6only=off", "so_keepalive=on", "so_keepalive=off", "so_keepalive=%w*:%w*:%d*"} {
		m[f] = false
	}
	m["listener"] = fmt.Sprintf("%s:%d", ip, port)
	if ssl {
		m["listener"] = fmt.Sprintf("%s:%d ssl", ip, port)
	}
	return m
}

// TestRootConfigurationFromRunningListeners: GET /'s configuration
// describes the running config's kong_proxy and kong_admin servers as
// Kong's proxy_listen/proxy_listeners and admin_listen/admin_listeners,
// with nothing of nginx's; HEAD / answers GET's headers.
func TestRootConfigurationFromRunningListeners(t *testing.T) {
	c := testcaddy.New(t)
	proxy, tls := testcaddy.FreePort(t), testcaddy.FreePort(t)
	c.Load(t, listenersConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{PROXY}", fmt.Sprint(proxy), "{TLS}", fmt.Sprint(tls))
	e := &env{t: t, c: c, base: fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort)}

	status, body, getHeader := e.do("GET", "/", nil)
	var root struct{ Configuration map[string]any }
	if err := json.Unmarshal(body, &root); err != nil || status != 200 {
		t.Fatalf("GET /: %d %s", status, body)
	}
	want := map[string]any{
		"database": "bolt", "role": "traditional", "router_flavor": "traditional_compatible",
		"proxy_listen":      []any{fmt.Sprintf("127.0.0.1:%d", proxy), fmt.Sprintf("127.0.0.1:%d http2 ssl", tls)},
		"proxy_listeners":   []any{kongListener("127.0.0.1", proxy, false, false), kongListener("127.0.0.1", tls, true, true)},
		"proxy_ssl_enabled": true,
		"admin_listen":      []any{fmt.Sprintf("127.0.0.1:%d", c.HTTPPort)},
		"admin_listeners":   []any{kongListener("127.0.0.1", c.HTTPPort, false, false)},
		"admin_ssl_enabled": false,
	}
	// the servers' order is Caddy's server names'; compare as sets of two
	if pl := root.Configuration["proxy_listeners"].([]any); len(pl) == 2 && pl[0].(map[string]any)["ssl"] == true {
		want["proxy_listen"] = []any{want["proxy_listen"].([]any)[1], want["proxy_listen"].([]any)[0]}
		want["proxy_listeners"] = []any{want["proxy_listeners"].([]any)[1], want["proxy_listeners"].([]any)[0]}
	}
	if !reflect.DeepEqual(root.Configuration, want) {
		g, _ := json.Marshal(root.Configuration)
		w, _ := json.Marshal(want)
		t.Fatalf("GET / configuration:\n got %s\nwant %s", g, w)
	}
	if regexp.MustCompile(`"nginx_`).Match(body) {
		t.Fatalf("GET / shows nginx settings: %s", body)
	}

	status, headBody, headHeader := e.do("HEAD", "/", nil)
	if status != 200 || len(headBody) != 0 {
		t.Fatalf("HEAD /: %d %q", status, headBody)
	}
	for _, h := range []http.Header{getHeader, headHeader} {
		h.Del("Date")
		h.Del("X-Kong-Admin-Latency")
	}
	if !reflect.DeepEqual(getHeader, headHeader) || getHeader.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("HEAD / headers %v, GET / headers %v (body %d bytes)", headHeader, getHeader, len(body))
	}
}

// TestStatusUnitAndScale sends Kong's /status memory-unit requests
// (02-kong_routes_spec.lua): ?unit=k|m|g renders "<n> KiB|MiB|GiB" with
// ?scale decimals, ?unit=b numbers, and a bad unit Kong's 400.
func TestStatusUnitAndScale(t *testing.T) {
	e := start(t)
	for _, tc := range []struct{ query, pattern string }{
		{"", `^\d+\.\d\d MiB$`},
		{"?unit=k", `^\d+\.\d\d KiB$`},
		{"?unit=M", `^\d+\.\d\d MiB$`},
		{"?unit=g&scale=4", `^\d+\.\d{4} GiB$`},
		{"?scale=3", `^\d+\.\d{3} MiB$`},
		{"?scale=0", `^\d+ MiB$`},
		{"?scale=x", `^\d+\.\d\d MiB$`},
		{"?unit=b", `^\d+$`},
	} {
		status, body, _ := e.do("GET", "/status"+tc.query, nil)
		var st struct {
			Memory struct {
				WorkersLuaVMs []map[string]any `json:"workers_lua_vms"`
			}
		}
		if err := json.Unmarshal(body, &st); err != nil || status != 200 || len(st.Memory.WorkersLuaVMs) == 0 {
			t.Fatalf("GET /status%s: %d %s", tc.query, status, body)
		}
		gc := st.Memory.WorkersLuaVMs[0]["http_allocated_gc"]
		text := fmt.Sprint(gc)
		n, isNumber := gc.(float64)
		if isNumber {
			text = strconv.FormatFloat(n, 'f', -1, 64)
		}
		if isNumber != (tc.query == "?unit=b") || !regexp.MustCompile(tc.pattern).MatchString(text) {
			t.Fatalf("GET /status%s: http_allocated_gc %#v, want %s", tc.query, gc, tc.pattern)
		}
	}
	e.expect("GET", "/status?unit=V", nil, 400, `{"message":"invalid unit 'V' (expected 'k/K', 'm/M', or 'g/G')"}`)
	e.expect("GET", "/status?unit=k&scale=-1", nil, 400, `{"message":"scale must be equal or greater than 0"}`)
}
