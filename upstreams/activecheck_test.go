package upstreams_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

const checkedConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream checked {
			healthchecks {
				active {
					type {TYPE}
					timeout 0.5
					healthy {
						interval 0.1
						successes 2
					}
					unhealthy {
						interval 0.1
						tcp_failures 2
						http_failures 2
						timeouts 2
					}
				}
			}
			target {A}
			target {B}
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry checked
		lb_policy registry
	}
}`

func addressHealthy(name, dial string) func() bool {
	return func() bool {
		p := upstreams.ActiveRegistry().Pool(name)
		for _, a := range p.Addresses {
			if a.Dial == dial {
				return a.State.Healthy()
			}
		}
		return false
	}
}

func TestActiveChecksTakeADeadTargetOutAndBringItBack(t *testing.T) {
	for _, probe := range []string{"http", "tcp"} {
		t.Run(probe, func(t *testing.T) {
			a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
			c := testcaddy.New(t)
			c.Load(t, checkedConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{TYPE}", probe, "{A}", a.Addr, "{B}", b.Addr)
			b.Close()
			took := testcaddy.WaitFor(t, 5*time.Second, "b to be marked unhealthy", func() bool { return !addressHealthy("checked", b.Addr)() })
			t.Logf("%s probes, interval 0.1 s, 2 failures: dead target detected in %v", probe, took)
			for i := 0; i < 10; i++ {
				if status, body := c.Get(t, "/"); status != 200 || !strings.HasPrefix(body, "a ") {
					t.Fatalf("request %d with b down: %d %q", i, status, body)
				}
			}
			b2 := testcaddy.StartBackendAt(t, "b", b.Addr)
			took = testcaddy.WaitFor(t, 5*time.Second, "b to recover", addressHealthy("checked", b.Addr))
			t.Logf("%s probes: restarted target healthy again in %v", probe, took)
			for i := 0; i < 4; i++ {
				c.Get(t, "/")
			}
			if b2.Hits.Load() < 2 { // http probes hit it too; tcp ones do not
				t.Fatalf("recovered target got %d requests", b2.Hits.Load())
			}
		})
	}
}

func TestActiveHTTPChecksCountStatuses(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := testcaddy.New(t)
	c.Load(t, checkedConfig, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{TYPE}", "http", "{A}", a.Addr, "{B}", b.Addr)
	b.Status.Store(500)
	testcaddy.WaitFor(t, 5*time.Second, "b answering 500 to be unhealthy", func() bool { return !addressHealthy("checked", b.Addr)() })
	b.Status.Store(0)
	testcaddy.WaitFor(t, 5*time.Second, "b answering 200 to be healthy", addressHealthy("checked", b.Addr))
}

func TestProbesStopWithTheirTargetsAndUpstreams(t *testing.T) {
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"))
	reg := upstreams.ActiveRegistry()
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		name := fmt.Sprintf("probed-%d", round)
		_, err := reg.CreateUpstream(ctx, map[string]any{"name": name, "healthchecks": map[string]any{
			"active": map[string]any{"type": "tcp", "healthy": map[string]any{"interval": 0.05}}}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			if _, err := reg.CreateTarget(ctx, name, map[string]any{"target": fmt.Sprintf("127.0.0.1:%d", 1+i)}); err != nil {
				t.Fatal(err)
			}
		}
		testcaddy.WaitFor(t, 5*time.Second, "20 probe loops for 20 probed targets", func() bool { return probeLoops() == 20 })
		// removing targets stops their probes; so does disabling checks and deleting
		for i := 0; i < 10; i++ {
			if err := reg.DeleteTarget(ctx, name, fmt.Sprintf("127.0.0.1:%d", 1+i)); err != nil {
				t.Fatal(err)
			}
		}
		testcaddy.WaitFor(t, 5*time.Second, "probes of deleted targets to stop", func() bool { return probeLoops() == 10 })
		if round%2 == 0 {
			if _, err := reg.UpdateUpstream(ctx, name, map[string]any{"healthchecks": map[string]any{
				"active": map[string]any{"healthy": map[string]any{"interval": 0.0}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := reg.DeleteUpstream(ctx, name); err != nil {
			t.Fatal(err)
		}
		testcaddy.WaitFor(t, 5*time.Second, "all probes to stop", func() bool { return probeLoops() == 0 })
	}
}

// probeLoops counts the running probe goroutines from every goroutine's stack.
func probeLoops() int {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "health.(*Checker).loop(")
}

// TestDetectionTimeAtOneSecondInterval measures the figure Kong users
// tune for: interval 1 s, tcp_failures 2 (reported, not asserted).
func TestDetectionTimeAtOneSecondInterval(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := testcaddy.New(t)
	cfg := strings.NewReplacer("interval 0.1", "interval 1").Replace(checkedConfig)
	c.Load(t, cfg, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{TYPE}", "tcp", "{A}", a.Addr, "{B}", b.Addr)
	time.Sleep(1100 * time.Millisecond) // let the first probes run on a live target
	b.Close()
	took := testcaddy.WaitFor(t, 10*time.Second, "b to be marked unhealthy", func() bool { return !addressHealthy("checked", b.Addr)() })
	t.Logf("interval=1, tcp_failures=2: dead target detected %v after it died", took)
}

func TestHTTPSProbesVerifyCertificatesWhenAsked(t *testing.T) {
	tlsBackend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tlsBackend.Close()
	addr := strings.TrimPrefix(tlsBackend.URL, "https://")
	ctx := context.Background()
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"))
	reg := upstreams.ActiveRegistry()
	for _, tc := range []struct {
		verify      bool
		wantHealthy bool
	}{{true, false}, {false, true}} {
		name := fmt.Sprintf("tls-verify-%v", tc.verify)
		_, err := reg.CreateUpstream(ctx, map[string]any{"name": name, "healthchecks": map[string]any{"active": map[string]any{
			"type": "https", "https_verify_certificate": tc.verify, "https_sni": "example.com",
			"healthy":   map[string]any{"interval": 0.05, "successes": 1.0},
			"unhealthy": map[string]any{"interval": 0.05, "tcp_failures": 1.0},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.CreateTarget(ctx, name, map[string]any{"target": addr}); err != nil {
			t.Fatal(err)
		}
		if tc.wantHealthy {
			// first make it unhealthy by hand, then the probes must bring it back
			reg.Pool(name).Addresses[0].State.ForceHealthy(false)
			testcaddy.WaitFor(t, 5*time.Second, "verify=false probes to succeed", addressHealthy(name, reg.Pool(name).Addresses[0].Dial))
		} else {
			testcaddy.WaitFor(t, 5*time.Second, "verify=true probes to fail on a self-signed cert", func() bool {
				return !addressHealthy(name, reg.Pool(name).Addresses[0].Dial)()
			})
		}
	}
}

// TestActiveConcurrencyBoundsProbesInProgress: four slow targets probed
// every 50 ms with concurrency 1 never see two probes at once; with
// concurrency 4 they do.
func TestActiveConcurrencyBoundsProbesInProgress(t *testing.T) {
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprint("concurrency ", concurrency), func(t *testing.T) {
			var inProgress, most atomic.Int64
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inProgress.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(40 * time.Millisecond)
				inProgress.Add(-1)
			})
			var targets []string
			for i := 0; i < 4; i++ {
				srv := httptest.NewServer(slow)
				t.Cleanup(srv.Close)
				targets = append(targets, "target "+strings.TrimPrefix(srv.URL, "http://"))
			}
			c := testcaddy.New(t)
			c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		upstream probed {
			healthchecks {
				active {
					concurrency {N}
					healthy {
						interval 0.05
					}
				}
			}
			{TARGETS}
		}
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{N}", fmt.Sprint(concurrency), "{TARGETS}", strings.Join(targets, "\n\t\t\t"))
			time.Sleep(600 * time.Millisecond)
			t.Logf("at most %d probes in progress at once", most.Load())
			if concurrency == 1 && most.Load() != 1 {
				t.Fatalf("concurrency 1: %d probes ran at once", most.Load())
			}
			if concurrency == 4 && most.Load() < 2 {
				t.Fatalf("concurrency 4: probes never overlapped (max %d)", most.Load())
			}
		})
	}
}
