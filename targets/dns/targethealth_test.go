package dns_test

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/internal/testdns"
)

// hostBackend is a backend on a loopback address that answers /status
// with 500 for the Host names it is told to fail and 200 for others, and
// any other path with the Host it received. It records the Hosts of the
// /status probes.
type hostBackend struct {
	Addr  string
	mu    sync.Mutex
	fail  map[string]bool // host name (without port) -> answer 500
	probe map[string]int  // Host header of /status requests -> count
}

func startHostBackend(t *testing.T, ip string, failing ...string) *hostBackend {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	b := &hostBackend{Addr: ln.Addr().String(), fail: map[string]bool{}, probe: map[string]int{}}
	for _, f := range failing {
		b.fail[f] = true
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			fmt.Fprint(w, r.Host)
			return
		}
		name, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			name = r.Host
		}
		b.mu.Lock()
		b.probe[r.Host]++
		failed := b.fail[name]
		b.mu.Unlock()
		if failed {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *hostBackend) probed(host string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.probe[host]
}

// healthByTarget is GET /upstreams/{u}/health as target -> health.
func healthByTarget(t *testing.T, c *testcaddy.Caddy, upstream string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range health(t, c, upstream) {
		out[h.Target] = h.Health
	}
	return out
}

// TestTargetsOnOneAddressKeepTheirOwnHealth: two targets whose names
// resolve to the same ip:port keep separate health, each probed with its
// own Host, as Kong's health checker keys health by target name and
// address: the one whose Host the backend fails goes UNHEALTHY alone, and
// traffic keeps flowing to the other.
func TestTargetsOnOneAddressKeepTheirOwnHealth(t *testing.T) {
	srv := testdns.Start(t)
	b := startHostBackend(t, "127.0.0.2", "b.test")
	_, port, _ := net.SplitHostPort(b.Addr)
	srv.Set("a.test", "A", "30 IN A 127.0.0.2")
	srv.Set("b.test", "A", "30 IN A 127.0.0.2")
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		resolver dns {DNS}
		upstream api {
			healthchecks {
				active {
					http_path /status
					healthy {
						interval 0.1
						successes 1
					}
					unhealthy {
						interval 0.1
						http_failures 1
					}
				}
			}
			target a.test:{PORT}
			target b.test:{PORT}
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry api
		lb_policy registry
		header_up Host {upstreams.host}
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{DNS}", srv.Addr, "{PORT}", port)

	a, bt := "a.test:"+port, "b.test:"+port
	testcaddy.WaitFor(t, 10*time.Second, "b.test to be UNHEALTHY", func() bool {
		return healthByTarget(t, c, "api")[bt] == "UNHEALTHY"
	})
	testcaddy.WaitFor(t, 10*time.Second, "both targets to be probed", func() bool {
		return b.probed(a) > 1 && b.probed(bt) > 1
	})
	if h := healthByTarget(t, c, "api"); h[a] != "HEALTHY" {
		t.Fatalf("health = %v, want %s HEALTHY: it shares b.test's ip:port, not its health", h, a)
	}
	for i := range 10 {
		if status, host := c.Get(t, "/x"); status != 200 || host != "a.test" {
			t.Fatalf("request %d: %d %q, want 200 through the healthy target a.test", i, status, host)
		}
	}
}

// TestAddressesByName: Kong lists an address from an SRV answer by the
// SRV entry's name and port (its balancer keeps SRV entries by name), and
// the per-address endpoints accept that name:port, as they accept a
// hostname target's name for all its addresses on that port.
func TestAddressesByName(t *testing.T) {
	srv := testdns.Start(t)
	b := startHostBackend(t, "127.0.0.2")
	_, port, _ := net.SplitHostPort(b.Addr)
	srv.Set("_srv._pro.srv-changes-port.test", "SRV", "30 IN SRV 0 10 "+port+" a-changes-port.test.")
	srv.Set("a-changes-port.test", "A", "30 IN A 127.0.0.2")
	srv.Set("multiple-ips.test", "A", "30 IN A 127.0.0.2", "30 IN A 127.0.0.3")
	c := startHealthAdmin(t, srv)
	c.AdminJSON(t, "POST", "/kong/upstreams", `{"name":"api","healthchecks":{"passive":{"unhealthy":{"tcp_failures":1}}}}`, 201)
	c.AdminJSON(t, "POST", "/kong/upstreams/api/targets", `{"target":"_srv._pro.srv-changes-port.test:80"}`, 201)
	c.AdminJSON(t, "POST", "/kong/upstreams/api/targets", `{"target":"multiple-ips.test:80"}`, 201)

	addresses := func(target string) []string {
		var out []string
		for _, h := range health(t, c, "api") {
			if h.Target == target {
				for _, a := range h.Data.Addresses {
					out = append(out, fmt.Sprintf("%s:%d %s", a.IP, a.Port, a.Health))
				}
			}
		}
		return out
	}
	srvTarget := "_srv._pro.srv-changes-port.test:80"
	if got, want := addresses(srvTarget), []string{"a-changes-port.test:" + port + " HEALTHY"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("SRV target's addresses = %v, want %v (the SRV entry's name, as Kong lists it)", got, want)
	}
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/"+srvTarget+"/a-changes-port.test:"+port+"/unhealthy", "", 204)
	if got := addresses(srvTarget); fmt.Sprint(got) != "[a-changes-port.test:"+port+" UNHEALTHY]" {
		t.Fatalf("after PUT by name unhealthy: %v", got)
	}
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/"+srvTarget+"/a-changes-port.test:"+port+"/healthy", "", 204)
	if got := addresses(srvTarget); fmt.Sprint(got) != "[a-changes-port.test:"+port+" HEALTHY]" {
		t.Fatalf("after PUT by name healthy: %v", got)
	}
	// a hostname target's name addresses all its addresses on that port
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/multiple-ips.test:80/multiple-ips.test:80/unhealthy", "", 204)
	if got := addresses("multiple-ips.test:80"); fmt.Sprint(got) != "[127.0.0.2:80 UNHEALTHY 127.0.0.3:80 UNHEALTHY]" {
		t.Fatalf("after PUT by the target's name: %v, want both IPs UNHEALTHY (listed by IP, as Kong)", got)
	}
	// a name that is neither the address's nor the target's matches nothing
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/"+srvTarget+"/other.test:"+port+"/unhealthy", "", 404)
}

// TestHealthSurvivesDeleteAndRecreate: as in Kong's spec "an upstream
// that is removed and readded keeps the health status", an upstream
// deleted and re-created (new id) with the same name and target finds its
// addresses UNHEALTHY as they were; Kong keeps a deleted upstream's health
// for 300 s.
func TestHealthSurvivesDeleteAndRecreate(t *testing.T) {
	srv := testdns.Start(t)
	srv.Set("multiple-ips.test", "A", "30 IN A 127.0.0.2", "30 IN A 127.0.0.3")
	c := startHealthAdmin(t, srv)
	const upstream = `{"name":"api","healthchecks":{"passive":{"unhealthy":{"tcp_failures":1}}}}`
	first := c.AdminJSON(t, "POST", "/kong/upstreams", upstream, 201)
	c.AdminJSON(t, "POST", "/kong/upstreams/api/targets", `{"target":"multiple-ips.test:80"}`, 201)
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/multiple-ips.test:80/127.0.0.2:80/unhealthy", "", 204)
	c.AdminJSON(t, "PUT", "/kong/upstreams/api/targets/multiple-ips.test:80/127.0.0.3:80/unhealthy", "", 204)
	if h := healthByTarget(t, c, "api"); h["multiple-ips.test:80"] != "UNHEALTHY" {
		t.Fatalf("health before the delete = %v", h)
	}

	c.AdminJSON(t, "DELETE", "/kong/upstreams/api", "", 204)
	second := c.AdminJSON(t, "POST", "/kong/upstreams", upstream, 201)
	if first["id"] == second["id"] {
		t.Fatalf("the re-created upstream has the old id %v", first["id"])
	}
	c.AdminJSON(t, "POST", "/kong/upstreams/api/targets", `{"target":"multiple-ips.test:80"}`, 201)
	h := health(t, c, "api")
	if len(h) != 1 || h[0].Health != "UNHEALTHY" || len(h[0].Data.Addresses) != 2 ||
		h[0].Data.Addresses[0].Health != "UNHEALTHY" || h[0].Data.Addresses[1].Health != "UNHEALTHY" {
		t.Fatalf("health after re-creating = %+v, want the target and both addresses UNHEALTHY", h)
	}
	if status, _ := c.Get(t, "/x"); status != http.StatusServiceUnavailable {
		t.Fatalf("proxying through the re-created upstream: %d, want 503 (no healthy address)", status)
	}
}

// startHealthAdmin starts Caddy with a resolver on srv, no declared
// upstream (the tests create them through the Admin API) and a proxy to
// upstream "api".
func startHealthAdmin(t *testing.T, srv *testdns.Server) *testcaddy.Caddy {
	t.Helper()
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		resolver dns {DNS}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry api
		lb_policy registry
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{DNS}", srv.Addr)
	return c
}
