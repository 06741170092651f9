package dns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	miekgdns "github.com/miekg/dns"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testdns"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

// dnsConfig proxies to upstream "api" whose one target is {TARGET},
// resolved by the test's DNS server {DNS}.
const dnsConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		resolver dns {DNS} {
			timeout 200ms
			min_ttl 100ms
			error_retry 100ms
		}
		upstream api {
			{FIELDS}
			target {TARGET}
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry api
		lb_policy registry
	}
}`

// startDNSProxy starts Caddy with dnsConfig.
func startDNSProxy(t *testing.T, srv *testdns.Server, target, fields string) *testcaddy.Caddy {
	t.Helper()
	c := testcaddy.New(t)
	c.Load(t, dnsConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{DNS}", srv.Addr,
		"{TARGET}", target, "{FIELDS}", fields)
	return c
}

// backendsOnOnePort starts one backend per loopback IP, all on one port.
func backendsOnOnePort(t *testing.T, ips ...string) ([]*testcaddy.Backend, int) {
	t.Helper()
	first := testcaddy.StartBackendAt(t, ips[0], net.JoinHostPort(ips[0], "0"))
	_, p, _ := net.SplitHostPort(first.Addr)
	out := []*testcaddy.Backend{first}
	for _, ip := range ips[1:] {
		out = append(out, testcaddy.StartBackendAt(t, ip, net.JoinHostPort(ip, p)))
	}
	var port int
	fmt.Sscan(p, &port)
	return out, port
}

// servedBy sends one request and returns the backend that answered.
func servedBy(t *testing.T, c *testcaddy.Caddy) string {
	t.Helper()
	status, body := c.Get(t, "/x")
	if status != 200 {
		t.Fatalf("status %d, body %q", status, body)
	}
	return strings.Fields(body)[0]
}

// targetHealth is one item of GET /upstreams/{u}/health.
type targetHealth struct {
	Target string `json:"target"`
	Health string `json:"health"`
	Data   struct {
		DNS       string `json:"dns"`
		Addresses []struct {
			IP     string `json:"ip"`
			Port   int    `json:"port"`
			Weight int    `json:"weight"`
			Health string `json:"health"`
		} `json:"addresses"`
	} `json:"data"`
}

func health(t *testing.T, c *testcaddy.Caddy, upstream string) []targetHealth {
	t.Helper()
	status, body := c.Admin(t, "GET", "/kong/upstreams/"+upstream+"/health", "", nil)
	if status != 200 {
		t.Fatalf("health: %d %s", status, body)
	}
	var out struct {
		Data []targetHealth `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// TestTrafficFollowsReResolution: a hostname with two A records is
// balanced over both; when the answer changes, traffic follows at the
// record's TTL, and the name is asked about once per TTL, not per request.
func TestTrafficFollowsReResolution(t *testing.T) {
	srv := testdns.Start(t)
	backends, port := backendsOnOnePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	srv.Set("api.test", "A", "1 IN A 127.0.0.2", "1 IN A 127.0.0.3")
	c := startDNSProxy(t, srv, fmt.Sprintf("api.test:%d", port), "algorithm round-robin")

	seen := map[string]int{}
	for i := 0; i < 40; i++ {
		seen[servedBy(t, c)]++
	}
	if seen["127.0.0.2"] != 20 || seen["127.0.0.3"] != 20 {
		t.Fatalf("two A records at the target's weight: %v, want 20 each", seen)
	}
	h := health(t, c, "api")
	if len(h) != 1 || h[0].Data.DNS != "A" || len(h[0].Data.Addresses) != 2 || h[0].Health != "HEALTHCHECKS_OFF" {
		t.Fatalf("health = %+v, want dns A with 2 addresses", h)
	}

	// change the answer three times; each time traffic must follow
	queriesBefore := srv.Queries("api.test", "A")
	start := time.Now()
	var lags []string
	requests := 0
	for round, ip := range []string{"127.0.0.4", "127.0.0.2", "127.0.0.4"} {
		srv.Set("api.test", "A", "1 IN A "+ip)
		lag := testcaddy.WaitFor(t, 5*time.Second, "traffic to follow the new A record", func() bool {
			requests++
			return servedBy(t, c) == ip
		})
		lags = append(lags, lag.Round(time.Millisecond).String())
		for i := 0; i < 10; i++ {
			if b := servedBy(t, c); b != ip {
				t.Fatalf("round %d: after re-resolution, request %d went to %s, want %s", round, i, b, ip)
			}
		}
	}
	elapsed := time.Since(start)
	asked := srv.Queries("api.test", "A") - queriesBefore
	t.Logf("re-resolution lag at TTL 1 s: %s; %d A queries in %v while %d requests were proxied",
		strings.Join(lags, ", "), asked, elapsed.Round(time.Millisecond), requests+30)
	if asked > int64(elapsed/time.Second)+2 {
		t.Fatalf("%d queries in %v at TTL 1 s: lookups are not paced by the TTL", asked, elapsed)
	}
	if backends[2].Hits.Load() < 21 {
		t.Fatalf("new address served %d requests", backends[2].Hits.Load())
	}
}

// TestSRVWeightsSplitTraffic: SRV entries give each address its port and
// weight; traffic is split by the SRV weights.
func TestSRVWeightsSplitTraffic(t *testing.T) {
	srv := testdns.Start(t)
	heavy := testcaddy.StartBackendAt(t, "heavy", "127.0.0.2:0")
	light := testcaddy.StartBackendAt(t, "light", "127.0.0.3:0")
	_, hp, _ := net.SplitHostPort(heavy.Addr)
	_, lp, _ := net.SplitHostPort(light.Addr)
	srv.Set("_http._tcp.svc.test", "SRV",
		"30 IN SRV 0 30 "+hp+" heavy.svc.test.",
		"30 IN SRV 0 10 "+lp+" light.svc.test.")
	srv.Set("heavy.svc.test", "A", "30 IN A 127.0.0.2")
	srv.Set("light.svc.test", "A", "30 IN A 127.0.0.3")
	c := startDNSProxy(t, srv, "_http._tcp.svc.test", "use_srv_name true")

	const n = 400
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		seen[servedBy(t, c)]++
	}
	share := float64(seen["heavy"]) / n
	t.Logf("SRV weights 30/10: heavy got %d of %d (%.1f %%)", seen["heavy"], n, share*100)
	if share < 0.70 || share > 0.80 || seen["heavy"]+seen["light"] != n {
		t.Fatalf("split %v, want 75 %% ± 5 to heavy", seen)
	}
	h := health(t, c, "api")
	if len(h) != 1 || h[0].Data.DNS != "SRV" || len(h[0].Data.Addresses) != 2 {
		t.Fatalf("health = %+v, want dns SRV with 2 addresses", h)
	}
	for _, a := range h[0].Data.Addresses {
		// listed by the SRV entry's name, as Kong does
		if want := map[string]int{"heavy.svc.test": 30, "light.svc.test": 10}[a.IP]; a.Weight != want {
			t.Fatalf("address %+v: weight %d, want the SRV weight %d", a, a.Weight, want)
		}
	}

	// a target of weight 0 stays disabled whatever the SRV weights
	status, body := c.Admin(t, "PATCH", "/kong/upstreams/api/targets/"+h[0].Target, "application/json", []byte(`{"weight":0}`))
	if status != 200 {
		t.Fatalf("PATCH weight 0: %d %s", status, body)
	}
	for _, a := range health(t, c, "api")[0].Data.Addresses {
		if a.Weight != 0 {
			t.Fatalf("address %+v of a weight-0 target has weight %d", a, a.Weight)
		}
	}
	if status, _ := c.Get(t, "/x"); status != 503 {
		t.Fatalf("weight-0 SRV target: status %d, want 503", status)
	}
}

// TestLookupFailureKeepsLastGoodAddresses: SERVFAIL (then a dead server)
// keeps the addresses of the last good answer serving, and the health
// endpoint says DNS_ERROR with the error; a good answer clears it.
func TestLookupFailureKeepsLastGoodAddresses(t *testing.T) {
	srv := testdns.Start(t)
	_, port := backendsOnOnePort(t, "127.0.0.2")
	srv.Set("api.test", "A", "1 IN A 127.0.0.2")
	c := startDNSProxy(t, srv, fmt.Sprintf("api.test:%d", port), "algorithm round-robin")
	servedBy(t, c)

	srv.Fail(miekgdns.RcodeServerFailure)
	detected := testcaddy.WaitFor(t, 5*time.Second, "DNS_ERROR in health", func() bool {
		h := health(t, c, "api")
		return h[0].Health == "DNS_ERROR"
	})
	h := health(t, c, "api")
	if !strings.Contains(h[0].Data.DNS, "SERVFAIL") || len(h[0].Data.Addresses) != 1 || h[0].Data.Addresses[0].IP != "127.0.0.2" {
		t.Fatalf("health during SERVFAIL = %+v, want the error and the last good address", h[0])
	}
	for i := 0; i < 10; i++ {
		if b := servedBy(t, c); b != "127.0.0.2" {
			t.Fatalf("during SERVFAIL request went to %s", b)
		}
	}
	t.Logf("SERVFAIL shown as %s after %v (TTL 1 s), dns %q", h[0].Health, detected.Round(time.Millisecond), h[0].Data.DNS)

	// a dead server (queries time out) keeps them too
	srv.Stop()
	testcaddy.WaitFor(t, 5*time.Second, "the lookup error of a dead server in health", func() bool {
		h := health(t, c, "api")[0]
		return h.Health == "DNS_ERROR" && !strings.Contains(h.Data.DNS, "SERVFAIL")
	})
	if b := servedBy(t, c); b != "127.0.0.2" {
		t.Fatalf("with the DNS server down, request went to %s", b)
	}
	t.Logf("DNS server down: dns %q", health(t, c, "api")[0].Data.DNS)
	// the same failure, retried every error_retry (100 ms), rebuilds nothing
	pool := upstreams.ActiveRegistry().Pool("api")
	time.Sleep(350 * time.Millisecond)
	if upstreams.ActiveRegistry().Pool("api") != pool {
		t.Fatal("repeating the same lookup failure republished the pool")
	}

	srv.Restart(t)
	srv.Fail(miekgdns.RcodeSuccess)
	testcaddy.WaitFor(t, 5*time.Second, "recovery in health", func() bool {
		h := health(t, c, "api")
		return h[0].Health == "HEALTHCHECKS_OFF" && h[0].Data.DNS == "A"
	})
}

// TestAAAAOnlyName resolves to ::1.
func TestAAAAOnlyName(t *testing.T) {
	srv := testdns.Start(t)
	b := testcaddy.StartBackendAt(t, "six", "[::1]:0")
	_, port, _ := net.SplitHostPort(b.Addr)
	srv.Set("six.test", "AAAA", "1 IN AAAA ::1")
	c := startDNSProxy(t, srv, "six.test:"+port, "algorithm round-robin")
	if got := servedBy(t, c); got != "six" {
		t.Fatalf("served by %s", got)
	}
	h := health(t, c, "api")
	if h[0].Data.DNS != "AAAA" || h[0].Data.Addresses[0].IP != "::1" {
		t.Fatalf("health = %+v, want AAAA ::1", h[0])
	}
}

// TestFirstRequestAfterCreatingAHostnameTarget: a write that adds a
// hostname returns once its first lookup is published, so the next request
// is served; and watchers stop with their targets and upstreams.
func TestWatchersFollowTargets(t *testing.T) {
	srv := testdns.Start(t)
	_, port := backendsOnOnePort(t, "127.0.0.2")
	srv.Set("api.test", "A", "1 IN A 127.0.0.2")
	c := startDNSProxy(t, srv, "127.0.0.1:1 0", "algorithm round-robin")
	reg := upstreams.ActiveRegistry()
	ctx := context.Background()

	status, body := c.Admin(t, "POST", "/kong/upstreams/api/targets", "application/json",
		[]byte(fmt.Sprintf(`{"target":"api.test:%d"}`, port)))
	if status != 201 {
		t.Fatalf("create target: %d %s", status, body)
	}
	if got := servedBy(t, c); got != "127.0.0.2" {
		t.Fatalf("first request after the write went to %s", got)
	}

	for round := 0; round < 2; round++ {
		name := fmt.Sprintf("many-%d", round)
		if _, err := reg.CreateUpstream(ctx, map[string]any{"name": name}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			srv.Set(fmt.Sprintf("h%d.test", i), "A", "1 IN A 127.0.0.2")
			if _, err := reg.CreateTarget(ctx, name, map[string]any{"target": fmt.Sprintf("h%d.test:%d", i, port)}); err != nil {
				t.Fatal(err)
			}
		}
		// two targets of one hostname share a watcher
		if _, err := reg.CreateTarget(ctx, name, map[string]any{"target": fmt.Sprintf("h0.test:%d", port+1)}); err != nil {
			t.Fatal(err)
		}
		if n := watchers(); n != 11 {
			t.Fatalf("%d watchers, want 10 for %s plus 1 for api", n, name)
		}
		for i := 0; i < 5; i++ {
			if err := reg.DeleteTarget(ctx, name, fmt.Sprintf("h%d.test:%d", i+5, port)); err != nil {
				t.Fatal(err)
			}
		}
		testcaddy.WaitFor(t, 5*time.Second, "watchers of deleted targets to stop", func() bool { return watchers() == 6 })
		if err := reg.DeleteUpstream(ctx, name); err != nil {
			t.Fatal(err)
		}
		testcaddy.WaitFor(t, 5*time.Second, "watchers of a deleted upstream to stop", func() bool { return watchers() == 1 })
	}
}

// watchers counts the running hostname watchers from every goroutine's stack.
func watchers() int {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "upstreams.(*hostWatchers).run(")
}

// TestUseSRVNameSetsHost: with use_srv_name, `transport registry` sends
// the SRV entry's target name as Host, and {upstreams.host} holds it for
// header_up or tls_server_name.
func TestUseSRVNameSetsHost(t *testing.T) {
	srv := testdns.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Host)
	}), ReadHeaderTimeout: 5 * time.Second}
	go backend.Serve(ln)
	t.Cleanup(func() { backend.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	srv.Set("_http._tcp.web.test", "SRV", "30 IN SRV 0 10 "+port+" web-1.web.test.")
	srv.Set("web-1.web.test", "A", "30 IN A 127.0.0.2")

	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		resolver dns {DNS}
		upstream web {
			use_srv_name true
			target _http._tcp.web.test
		}
	}
}
http://127.0.0.1:{HTTP} {
	handle /auto {
		reverse_proxy {
			dynamic registry web
			transport registry
		}
	}
	handle /placeholder {
		reverse_proxy {
			dynamic registry web
			header_up Host {upstreams.host}
		}
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{DNS}", srv.Addr)
	if _, host := c.Get(t, "/auto"); host != "web-1.web.test:"+port {
		t.Fatalf("Host with transport registry = %q, want web-1.web.test:%s", host, port)
	}
	if _, host := c.Get(t, "/placeholder"); host != "web-1.web.test" {
		t.Fatalf("Host from {upstreams.host} = %q, want web-1.web.test", host)
	}
}

// TestEachResolvedAddressHasItsOwnHealth: active checks probe every
// resolved address; a dead one is taken out alone, and the manual
// endpoints address one resolved address by ip:port.
func TestEachResolvedAddressHasItsOwnHealth(t *testing.T) {
	srv := testdns.Start(t)
	_, port := backendsOnOnePort(t, "127.0.0.2", "127.0.0.3")
	dead := testcaddy.StartBackendAt(t, "dead", fmt.Sprintf("127.0.0.4:%d", port))
	dead.Close()
	srv.Set("api.test", "A", "30 IN A 127.0.0.2", "30 IN A 127.0.0.3", "30 IN A 127.0.0.4")
	c := startDNSProxy(t, srv, fmt.Sprintf("api.test:%d", port), `healthchecks {
				active {
					type tcp
					healthy {
						interval 0.1
					}
					unhealthy {
						interval 0.1
						tcp_failures 1
					}
				}
			}`)
	addressHealth := func() map[string]string {
		out := map[string]string{}
		for _, a := range health(t, c, "api")[0].Data.Addresses {
			out[a.IP] = a.Health
		}
		return out
	}
	testcaddy.WaitFor(t, 5*time.Second, "the dead address to be UNHEALTHY", func() bool {
		return addressHealth()["127.0.0.4"] == "UNHEALTHY"
	})
	if h := addressHealth(); h["127.0.0.2"] != "HEALTHY" || h["127.0.0.3"] != "HEALTHY" {
		t.Fatalf("address health = %v, want the live ones HEALTHY", h)
	}
	status, body := c.Admin(t, "PUT", fmt.Sprintf("/kong/upstreams/api/targets/api.test:%d/127.0.0.3:%d/unhealthy", port, port), "", nil)
	if status != 204 {
		t.Fatalf("marking one resolved address unhealthy: %d %s", status, body)
	}
	for i := 0; i < 10; i++ {
		if b := servedBy(t, c); b != "127.0.0.2" {
			t.Fatalf("request %d went to %s, want the only healthy address", i, b)
		}
	}
	if h := health(t, c, "api")[0]; h.Health != "HEALTHY" || h.Data.DNS != "A" {
		t.Fatalf("target health = %+v, want HEALTHY (one address is)", h)
	}
}
