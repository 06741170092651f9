package reverseproxy_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// passiveConfig proxies to upstream "guarded" through the registry
// transport, with the health checks {HEALTHCHECKS}, the transport options
// {TRANSPORT} and the reverse_proxy options {PROXY}.
const passiveConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream guarded {
			healthchecks {
				{HEALTHCHECKS}
			}
			target {A} 100
			target {B} 100
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry guarded
		lb_policy registry
		transport registry {
			{TRANSPORT}
		}
		{PROXY}
	}
}
`

func startPassive(t *testing.T, a, b *testcaddy.Backend, healthchecks, transport, proxy string) *testcaddy.Caddy {
	t.Helper()
	c := testcaddy.New(t)
	c.Load(t, passiveConfig,
		"{DB}", filepath.Join(t.TempDir(), "registry.db"),
		"{A}", a.Addr, "{B}", b.Addr,
		"{HEALTHCHECKS}", healthchecks, "{TRANSPORT}", transport, "{PROXY}", proxy)
	return c
}

// addressOf returns the pool address of a backend.
func addressOf(t *testing.T, upstream string, b *testcaddy.Backend) *upstreams.Address {
	t.Helper()
	addrs := upstreams.ActiveRegistry().Pool(upstream).Addresses
	for i := range addrs {
		if addrs[i].Dial == b.Addr {
			return &addrs[i]
		}
	}
	t.Fatalf("no address %s in upstream %s", b.Addr, upstream)
	return nil
}

// TestPassiveChecksCountFailingStatuses: a backend answering 500 (in
// passive.unhealthy.http_statuses by default) is taken out after exactly
// http_failures responses, and every later request reaches the other one.
func TestPassiveChecksCountFailingStatuses(t *testing.T) {
	good, bad := testcaddy.StartBackend(t, "good"), testcaddy.StartBackend(t, "bad")
	bad.Status.Store(500)
	c := startPassive(t, good, bad, `passive {
					unhealthy {
						http_failures 3
					}
				}`, "", "")
	statuses := map[int]int{}
	for i := 0; i < 20; i++ {
		status, _ := c.Get(t, "/")
		statuses[status]++
	}
	if bad.Hits.Load() != 3 || statuses[500] != 3 || statuses[200] != 17 {
		t.Fatalf("bad target served %d requests, statuses %v; want exactly 3 failures before it is taken out", bad.Hits.Load(), statuses)
	}
	if addressOf(t, "guarded", bad).State.Healthy() {
		t.Fatal("the failing target is still healthy")
	}
	// passive checks cannot bring it back (it gets no traffic): a manual
	// healthy call does, as in Kong
	bad.Status.Store(0)
	if !upstreams.ActiveRegistry().MarkTargetHealth("guarded", addressOf(t, "guarded", bad).Target.ID, "", 0, true) {
		t.Fatal("manual healthy: target not found")
	}
	sequence(t, c, 4)
	if bad.Hits.Load() != 5 {
		t.Fatalf("after the manual healthy call the target served %d of 4 requests, want 2", bad.Hits.Load()-3)
	}
}

// TestPassiveChecksCountTimeouts: a backend slower than the transport's
// response_header_timeout counts timeouts; with a retry the client never
// sees them, and after `timeouts` of them the slow target gets nothing.
func TestPassiveChecksCountTimeouts(t *testing.T) {
	fast, slow := testcaddy.StartBackend(t, "fast"), testcaddy.StartBackend(t, "slow")
	slow.Delay.Store(int64(2 * time.Second))
	c := startPassive(t, fast, slow, `passive {
					unhealthy {
						timeouts 2
					}
				}`, "response_header_timeout 150ms", "lb_retries 1")
	for i := 0; i < 10; i++ {
		if status, body := c.Get(t, "/"); status != 200 {
			t.Fatalf("request %d: status %d %q; the retry should have reached the fast target", i, status, body)
		}
	}
	if slow.Hits.Load() != 2 {
		t.Fatalf("slow target got %d attempts, want exactly 2 timeouts before it is taken out", slow.Hits.Load())
	}
	if addressOf(t, "guarded", slow).State.Healthy() {
		t.Fatal("the slow target is still healthy")
	}
}

// TestPassiveSuccessesAndIgnoredStatuses: statuses in neither list change
// nothing, and with passive.healthy.successes a success ends a failure
// streak (counters are consecutive).
func TestPassiveSuccessesAndIgnoredStatuses(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := startPassive(t, a, b, `passive {
					healthy {
						successes 1
					}
					unhealthy {
						http_failures 2
					}
				}`, "", "")
	addr := addressOf(t, "guarded", b)
	// 418 is in neither list; alternating 500 and 200 never makes two
	// consecutive failures
	for _, status := range []int64{418, 418, 418, 500, 0, 500, 0, 500} {
		b.Status.Store(status)
		served := b.Hits.Load()
		for i := 0; i < 4 && b.Hits.Load() == served; i++ { // until b answered once
			c.Get(t, "/")
		}
		if !addr.State.Healthy() {
			t.Fatalf("target became unhealthy after status %d; no two consecutive failures were seen", status)
		}
	}
	b.Status.Store(500)
	for i := 0; i < 8 && addr.State.Healthy(); i++ {
		c.Get(t, "/")
	}
	if addr.State.Healthy() {
		t.Fatal("two consecutive 500s did not take the target out")
	}
}

// TestNoFailedRequestsWhileATargetIsKilled kills one of two targets under
// concurrent traffic and restarts it: with lb_retries on, passive checks
// take it out at its first failure, active checks bring it back, and no
// client request fails.
func TestNoFailedRequestsWhileATargetIsKilled(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := startPassive(t, a, b, `active {
					type tcp
					healthy {
						interval 0.1
						successes 1
					}
					unhealthy {
						interval 0.1
						tcp_failures 1
					}
				}
				passive {
					unhealthy {
						tcp_failures 1
						timeouts 1
					}
				}`, "dial_timeout 1s", "lb_retries 2")
	url := fmt.Sprintf("http://127.0.0.1:%d/", c.HTTPPort)

	load := testcaddy.StartLoad(t, 4, testcaddy.GetOK(url))
	addr := addressOf(t, "guarded", b)
	time.Sleep(300 * time.Millisecond)
	b.Close()
	killed := time.Now()
	testcaddy.WaitFor(t, 5*time.Second, "the killed target to be unhealthy", func() bool { return !addr.State.Healthy() })
	outAfter := time.Since(killed)
	time.Sleep(300 * time.Millisecond)
	hitsWhileDead := b.Hits.Load()
	b2 := testcaddy.StartBackendAt(t, "b", b.Addr)
	restarted := time.Now()
	testcaddy.WaitFor(t, 5*time.Second, "the restarted target to get traffic", func() bool { return b2.Hits.Load() > 0 })
	backAfter := time.Since(restarted)
	time.Sleep(200 * time.Millisecond)
	total, failed := load.Stop()
	t.Logf("%d requests, %d failed; killed target out of rotation %v after the kill, back %v after the restart (served %d before)",
		total, failed, outAfter.Round(time.Millisecond), backAfter.Round(time.Millisecond), hitsWhileDead)
	if failed != 0 {
		t.Fatalf("%d of %d client requests failed during the kill: %s", failed, total, strings.Join(load.Failures(), "; "))
	}
	if a.Hits.Load() == 0 || b2.Hits.Load() == 0 {
		t.Fatalf("traffic did not reach both targets: a %d, restarted b %d", a.Hits.Load(), b2.Hits.Load())
	}
}

// TestRegistryTransportPassesOtherUpstreamsThrough: the transport proxies
// static upstreams like Caddy's http transport.
func TestRegistryTransportPassesOtherUpstreamsThrough(t *testing.T) {
	a := testcaddy.StartBackend(t, "static")
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {A} {
		transport registry {
			keepalive 5s
		}
	}
}`, "{A}", a.Addr)
	if status, body := c.Get(t, "/p"); status != 200 || body != "static /p" {
		t.Fatalf("static upstream through the registry transport: %d %q", status, body)
	}
}
