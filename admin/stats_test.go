package admin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

// statsConfig is adminConfig with the registry transport, which feeds the
// traffic counters.
const statsConfig = `{` + testcaddy.GlobalOptions + `
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
		transport registry
	}
}
`

type statsAddress struct {
	IP       string  `json:"ip"`
	Port     int     `json:"port"`
	Health   string  `json:"health"`
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	Latency  float64 `json:"latency_seconds"`
}

type statsSnapshot struct {
	Data struct {
		Name    string  `json:"name"`
		Time    float64 `json:"time"`
		Targets []struct {
			Target    string         `json:"target"`
			Weight    int            `json:"weight"`
			Health    string         `json:"health"`
			Addresses []statsAddress `json:"addresses"`
		} `json:"targets"`
	} `json:"data"`
}

// TestUpstreamStats proxies real requests to a healthy and a failing
// backend and reads each address's counters from GET /upstreams/u/stats,
// then as an event stream, which ends with Kong's 404 body once the
// upstream is deleted.
func TestUpstreamStats(t *testing.T) {
	c := testcaddy.New(t)
	proxy := testcaddy.FreePort(t)
	c.Load(t, statsConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{PROXY}", fmt.Sprint(proxy))
	e := &env{t: t, c: c, base: fmt.Sprintf("http://127.0.0.1:%d", c.HTTPPort), proxy: proxy}
	good, bad := testcaddy.StartBackend(t, "good"), testcaddy.StartBackend(t, "bad")
	bad.Status.Store(http.StatusBadGateway)
	e.expect("GET", "/upstreams/u/stats", nil, 404, `{"message":"Not found"}`)
	if status, body, _ := e.do("PUT", "/upstreams/u", `{}`); status != 200 {
		t.Fatalf("PUT /upstreams/u: %d %s", status, body)
	}
	for _, b := range []*testcaddy.Backend{good, bad} {
		if status, body, _ := e.do("POST", "/upstreams/u/targets", map[string]any{"target": b.Addr}); status != 201 {
			t.Fatalf("POST target: %d %s", status, body)
		}
	}
	const requests = 20
	for range requests {
		resp, err := testcaddy.Client.Get(fmt.Sprintf("http://127.0.0.1:%d/", proxy))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	status, body, _ := e.do("GET", "/upstreams/u/stats", nil)
	var s statsSnapshot
	if status != 200 || json.Unmarshal(body, &s) != nil || len(s.Data.Targets) != 2 {
		t.Fatalf("GET /upstreams/u/stats: %d %s", status, body)
	}
	var total uint64
	for i, b := range []*testcaddy.Backend{good, bad} {
		tg := s.Data.Targets[i]
		if tg.Target != b.Addr || len(tg.Addresses) != 1 || tg.Health != "HEALTHCHECKS_OFF" {
			t.Fatalf("target %d: %+v, want %s with one address", i, tg, b.Addr)
		}
		a := tg.Addresses[0]
		wantErrors := uint64(0)
		if b == bad {
			wantErrors = a.Requests
		}
		if a.Requests != uint64(b.Hits.Load()) || a.Errors != wantErrors || a.Latency <= 0 {
			t.Errorf("%s: %+v, want %d requests, %d errors and some latency", b.Name, a, b.Hits.Load(), wantErrors)
		}
		total += a.Requests
	}
	if total != requests {
		t.Errorf("the addresses counted %d requests, want %d", total, requests)
	}

	req, _ := http.NewRequest("GET", e.base+"/upstreams/u/stats", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: Content-Type %q", resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended early: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "retry: 1000" {
		t.Fatalf("first line %q, want the retry interval", l)
	}
	var times []float64
	for range 2 {
		l := next()
		var ev statsSnapshot
		if !strings.HasPrefix(l, "data: ") || json.Unmarshal([]byte(l[6:]), &ev) != nil || len(ev.Data.Targets) != 2 {
			t.Fatalf("event %q, want a snapshot of both targets", l)
		}
		times = append(times, ev.Data.Time)
		if l := next(); l != "" {
			t.Fatalf("event not ended by a blank line: %q", l)
		}
	}
	if times[1] <= times[0] {
		t.Errorf("snapshot times %v do not advance", times)
	}
	e.expect("DELETE", "/upstreams/u", nil, 204, "")
	for l := next(); l != "event: error"; l = next() {
		if !strings.HasPrefix(l, "data: ") && l != "" {
			t.Fatalf("unexpected line %q", l)
		}
	}
	if l := next(); l != `data: {"message":"Not found"}` {
		t.Fatalf("error event data %q, want Kong's 404 body", l)
	}
	next()
	if lines.Scan() {
		t.Fatalf("stream goes on after the error: %q", lines.Text())
	}
}
