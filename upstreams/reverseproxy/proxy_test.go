package reverseproxy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

const proxyConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream upstream-example {
			{TARGETS}
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry {UPSTREAM}
		lb_policy registry
	}
}
`

// startProxy starts Caddy proxying to a registry upstream whose targets
// are the given backends with the given weights.
func startProxy(t *testing.T, upstreamName string, backends []*testcaddy.Backend, weights []int) *testcaddy.Caddy {
	t.Helper()
	var targets []string
	for i, b := range backends {
		targets = append(targets, fmt.Sprintf("target %s %d", b.Addr, weights[i]))
	}
	c := testcaddy.New(t)
	c.Load(t, proxyConfig,
		"{DB}", filepath.Join(t.TempDir(), "registry.db"),
		"{TARGETS}", strings.Join(targets, "\n\t\t\t"),
		"{UPSTREAM}", upstreamName)
	return c
}

// sequence sends n sequential requests and returns the backend names.
func sequence(t *testing.T, c *testcaddy.Caddy, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		status, body := c.Get(t, "/x")
		if status != 200 {
			t.Fatalf("request %d: status %d, body %q", i, status, body)
		}
		out[i] = strings.Fields(body)[0]
	}
	return out
}

func TestEqualWeightsAlternate(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := startProxy(t, "upstream-example", []*testcaddy.Backend{a, b}, []int{100, 100})
	seq := sequence(t, c, 400)
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("requests %d and %d both went to %s; want strict alternation: %v", i-1, i, seq[i], seq[max(0, i-5):i+1])
		}
	}
	if a.Hits.Load() != 200 || b.Hits.Load() != 200 {
		t.Fatalf("hits a=%d b=%d, want 200/200", a.Hits.Load(), b.Hits.Load())
	}
}

func TestWeightedThreeToOneWithoutBursts(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := startProxy(t, "upstream-example", []*testcaddy.Backend{a, b}, []int{300, 100})
	seq := sequence(t, c, 400)
	if a.Hits.Load() != 300 || b.Hits.Load() != 100 {
		t.Fatalf("hits a=%d b=%d, want 300/100", a.Hits.Load(), b.Hits.Load())
	}
	// smooth: every window of 4 consecutive requests holds exactly one b
	for i := 0; i+4 <= len(seq); i++ {
		nb := 0
		for _, s := range seq[i : i+4] {
			if s == "b" {
				nb++
			}
		}
		if nb != 1 {
			t.Fatalf("window %d..%d = %v has %d requests to b, want 1", i, i+3, seq[i:i+4], nb)
		}
	}
}

func TestWeightZeroGetsNothing(t *testing.T) {
	a, b, z := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b"), testcaddy.StartBackend(t, "z")
	c := startProxy(t, "upstream-example", []*testcaddy.Backend{a, b, z}, []int{100, 100, 0})
	sequence(t, c, 100)
	if z.Hits.Load() != 0 {
		t.Fatalf("weight-0 target got %d requests", z.Hits.Load())
	}
	if a.Hits.Load() != 50 || b.Hits.Load() != 50 {
		t.Fatalf("hits a=%d b=%d, want 50/50", a.Hits.Load(), b.Hits.Load())
	}
}

func TestMissingUpstreamAnswers503(t *testing.T) {
	a := testcaddy.StartBackend(t, "a")
	c := startProxy(t, "no-such-upstream", []*testcaddy.Backend{a}, []int{100})
	for i := 0; i < 3; i++ {
		if status, body := c.Get(t, "/"); status != 503 {
			t.Fatalf("status %d (%q), want 503", status, body)
		}
	}
	if a.Hits.Load() != 0 {
		t.Fatalf("backend reached through a missing upstream")
	}
}

func TestUpstreamWithoutUsableTargetAnswers503(t *testing.T) {
	a := testcaddy.StartBackend(t, "a")
	c := startProxy(t, "upstream-example", []*testcaddy.Backend{a}, []int{0})
	if status, _ := c.Get(t, "/"); status != 503 {
		t.Fatalf("all-weight-0 upstream: status %d, want 503", status)
	}
	reg := upstreams.ActiveRegistry()
	if err := reg.DeleteTarget(context.Background(), "upstream-example", a.Addr); err != nil {
		t.Fatal(err)
	}
	if status, _ := c.Get(t, "/"); status != 503 {
		t.Fatalf("empty upstream: status %d, want 503", status)
	}
}

func TestRuntimeChangesReachTheProxyImmediately(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := startProxy(t, "upstream-example", []*testcaddy.Backend{a}, []int{100})
	reg := upstreams.ActiveRegistry()
	ctx := context.Background()
	if _, err := reg.CreateTarget(ctx, "upstream-example", map[string]any{"target": b.Addr}); err != nil {
		t.Fatal(err)
	}
	sequence(t, c, 10)
	if b.Hits.Load() != 5 {
		t.Fatalf("new target got %d of 10 requests right after being added, want 5", b.Hits.Load())
	}
	if _, err := reg.UpdateTarget(ctx, "upstream-example", a.Addr, map[string]any{"weight": 0.0}); err != nil {
		t.Fatal(err)
	}
	before := a.Hits.Load()
	sequence(t, c, 10)
	if a.Hits.Load() != before {
		t.Fatalf("target set to weight 0 still got traffic")
	}
}

func TestRetryReachesADifferentTarget(t *testing.T) {
	a := testcaddy.StartBackend(t, "a")
	dead := testcaddy.StartBackend(t, "dead")
	dead.Close() // connection refused from now on
	c := testcaddy.New(t)
	c.Load(t, `{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt {DB}
		upstream retrying {
			target {DEAD} 100
			target {A} 100
		}
	}
}
http://127.0.0.1:{HTTP} {
	reverse_proxy {
		dynamic registry retrying
		lb_policy registry
		lb_retries 1
	}
}`, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{DEAD}", dead.Addr, "{A}", a.Addr)
	for i := 0; i < 20; i++ {
		if status, body := c.Get(t, "/"); status != 200 {
			t.Fatalf("request %d: status %d (%q); the retry should reach the live target", i, status, body)
		}
	}
	if a.Hits.Load() != 20 {
		t.Fatalf("live target served %d of 20", a.Hits.Load())
	}
}

func TestThresholdMakesTheUpstreamAnswer503(t *testing.T) {
	bs := []*testcaddy.Backend{testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b"), testcaddy.StartBackend(t, "c"),
		testcaddy.StartBackend(t, "d"), testcaddy.StartBackend(t, "e")}
	c := startProxy(t, "upstream-example", bs, []int{100, 100, 100, 100, 100})
	reg := upstreams.ActiveRegistry()
	// Kong's documented example: threshold 55, five targets of weight 100
	if _, err := reg.UpdateUpstream(context.Background(), "upstream-example", map[string]any{"healthchecks": map[string]any{
		"threshold": 55.0, "passive": map[string]any{"unhealthy": map[string]any{"tcp_failures": 1.0}}}}); err != nil {
		t.Fatal(err)
	}
	pool := reg.Pool("upstream-example")
	pool.Addresses[0].State.ForceHealthy(false)
	pool.Addresses[1].State.ForceHealthy(false)
	if status, _ := c.Get(t, "/"); status != 200 {
		t.Fatalf("60%% available, threshold 55: status %d, want 200", status)
	}
	pool.Addresses[2].State.ForceHealthy(false)
	if status, _ := c.Get(t, "/"); status != 503 {
		t.Fatalf("40%% available, threshold 55: status %d, want 503", status)
	}
	pool.Addresses[2].State.ForceHealthy(true)
	if status, _ := c.Get(t, "/"); status != 200 {
		t.Fatalf("back to 60%%: status %d, want 200", status)
	}
}
