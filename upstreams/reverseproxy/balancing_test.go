package reverseproxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// balancingConfig proxies {SITE_MATCHER} requests to upstream "lb", whose
// fields are {FIELDS} and targets {TARGETS}. Loopback is a trusted proxy,
// so X-Forwarded-For sets the client IP.
const balancingConfig = `{` + testcaddy.GlobalOptions + `
	servers {
		trusted_proxies static 127.0.0.0/8
	}
	upstreams {
		store bolt {DB}
		upstream lb {
			{FIELDS}
			{TARGETS}
		}
	}
}
(proxy) {
	reverse_proxy {
		dynamic registry lb
		lb_policy registry
		lb_retries 1
	}
}
http://127.0.0.1:{HTTP} {
	@api path_regexp api ^/u/(?P<uid>[^/]+)
	handle @api {
		import proxy
	}
	handle {
		import proxy
	}
}
`

// startBalancing starts Caddy with upstream "lb" over the backends.
func startBalancing(t *testing.T, fields string, backends []*testcaddy.Backend, weights []int) *testcaddy.Caddy {
	t.Helper()
	var targets []string
	for i, b := range backends {
		targets = append(targets, fmt.Sprintf("target %s %d", b.Addr, weights[i]))
	}
	c := testcaddy.New(t)
	c.Load(t, balancingConfig,
		"{DB}", filepath.Join(t.TempDir(), "registry.db"),
		"{FIELDS}", fields,
		"{TARGETS}", strings.Join(targets, "\n\t\t\t"))
	return c
}

// send proxies one request and returns the backend that answered and the response.
func send(t *testing.T, c *testcaddy.Caddy, path string, edit func(*http.Request)) (string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", c.HTTPPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := testcaddy.Client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", path, resp.StatusCode)
	}
	return resp.Header.Get("X-Backend"), resp
}

func threeBackends(t *testing.T) []*testcaddy.Backend {
	return []*testcaddy.Backend{testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b"), testcaddy.StartBackend(t, "c")}
}

// TestConsistentHashingOnEveryInput sends 150 keys twice through each
// hash_on input: a key must reach the same backend both times, and with
// three equal targets each backend must get 50 ± 25 keys (one standard
// deviation is about 5.8 keys; backends' ports, hence the table, change
// from run to run).
func TestConsistentHashingOnEveryInput(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		path         func(key string) string
		edit         func(key string) func(*http.Request)
	}{
		{"header", "hash_on header\n\t\t\thash_on_header X-User", nil,
			func(k string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("X-User", k) } }},
		{"consumer", "hash_on consumer", nil,
			func(k string) func(*http.Request) { return func(r *http.Request) { r.Header.Set("X-Consumer-ID", k) } }},
		{"ip", "hash_on ip", nil,
			func(k string) func(*http.Request) {
				return func(r *http.Request) { r.Header.Set("X-Forwarded-For", "10.9.0."+k) }
			}},
		{"cookie", "hash_on cookie\n\t\t\thash_on_cookie lb", nil,
			func(k string) func(*http.Request) {
				return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "lb", Value: "v" + k}) }
			}},
		{"path", "hash_on path", func(k string) string { return "/p/" + k }, nil},
		{"query_arg", "hash_on query_arg\n\t\t\thash_on_query_arg u", func(k string) string { return "/q?u=" + k }, nil},
		{"uri_capture", "hash_on uri_capture\n\t\t\thash_on_uri_capture api.uid", func(k string) string { return "/u/" + k + "/x" }, nil},
		{"fallback", "hash_on header\n\t\t\thash_on_header X-User\n\t\t\thash_fallback query_arg\n\t\t\thash_fallback_query_arg u",
			func(k string) string { return "/q?u=" + k }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := threeBackends(t)
			c := startBalancing(t, tc.fields, bs, []int{100, 100, 100})
			counts := map[string]int{}
			for i := range 150 {
				key := fmt.Sprint(i + 1)
				path, edit := "/", func(*http.Request) {}
				if tc.path != nil {
					path = tc.path(key)
				}
				if tc.edit != nil {
					edit = tc.edit(key)
				}
				first, _ := send(t, c, path, edit)
				if again, _ := send(t, c, path, edit); again != first {
					t.Fatalf("key %s went to %s, then to %s", key, first, again)
				}
				counts[first]++
			}
			for _, b := range bs {
				if n := counts[b.Name]; n < 25 || n > 75 {
					t.Errorf("backend %s got %d of 150 keys, want 50 ± 25: %v", b.Name, n, counts)
				}
			}
		})
	}
}

// TestHashCookieIsSetWhenAbsent: without the cookie, the answer sets one
// (Kong's format, hash_on_cookie_path), and the client sticks with it.
func TestHashCookieIsSetWhenAbsent(t *testing.T) {
	bs := threeBackends(t)
	c := startBalancing(t, "hash_on cookie\n\t\t\thash_on_cookie lb\n\t\t\thash_on_cookie_path /app", bs, []int{100, 100, 100})
	for range 10 {
		first, resp := send(t, c, "/", nil)
		set := resp.Header.Values("Set-Cookie")
		if len(set) != 1 || !strings.HasPrefix(set[0], "lb=") || !strings.HasSuffix(set[0], "; Path=/app; SameSite=Lax; HttpOnly") {
			t.Fatalf("Set-Cookie %q, want one lb=<uuid>; Path=/app; SameSite=Lax; HttpOnly", set)
		}
		value := strings.TrimPrefix(strings.Split(set[0], ";")[0], "lb=")
		for range 5 {
			next, resp := send(t, c, "/", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "lb", Value: value}) })
			if next != first {
				t.Fatalf("cookie %s: first %s, then %s", value, first, next)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Fatalf("cookie set again though the request had it")
			}
		}
	}
}

// TestHashIsStableAcrossRestarts maps keys, stops Caddy, starts a new one
// on a new database with the targets declared in the reverse order: every
// key must reach the same backend.
func TestHashIsStableAcrossRestarts(t *testing.T) {
	bs := threeBackends(t)
	fields := "hash_on header\n\t\t\thash_on_header X-User"
	mapping := func(c *testcaddy.Caddy) []string {
		out := make([]string, 60)
		for i := range out {
			out[i], _ = send(t, c, "/", func(r *http.Request) { r.Header.Set("X-User", fmt.Sprint("user-", i)) })
		}
		return out
	}
	before := mapping(startBalancing(t, fields, bs, []int{100, 100, 100}))
	after := mapping(startBalancing(t, fields, []*testcaddy.Backend{bs[2], bs[1], bs[0]}, []int{100, 100, 100}))
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("user-%d: %s before the restart, %s after", i, before[i], after[i])
		}
	}
}

// TestAlgorithmChangeAppliesOnTheNextRequest switches an upstream between
// round-robin and consistent hashing through the registry (what the Admin
// API calls), without a reload.
func TestAlgorithmChangeAppliesOnTheNextRequest(t *testing.T) {
	bs := threeBackends(t)
	c := startBalancing(t, "", bs, []int{100, 100, 100})
	reg, ctx := upstreams.ActiveRegistry(), context.Background()
	user := func(r *http.Request) { r.Header.Set("X-User", "alice") }
	seen := map[string]bool{}
	for range 3 {
		b, _ := send(t, c, "/", user)
		seen[b] = true
	}
	if len(seen) != 3 {
		t.Fatalf("round-robin: 3 requests reached %v", seen)
	}
	if _, err := reg.UpdateUpstream(ctx, "lb", map[string]any{"hash_on": "header", "hash_on_header": "X-User"}); err != nil {
		t.Fatal(err)
	}
	first, _ := send(t, c, "/", user)
	for range 5 {
		if b, _ := send(t, c, "/", user); b != first {
			t.Fatalf("consistent-hashing: alice went to %s then %s", first, b)
		}
	}
	if _, err := reg.UpdateUpstream(ctx, "lb", map[string]any{"hash_on": "none"}); err != nil {
		t.Fatal(err)
	}
	seen = map[string]bool{}
	for range 3 {
		b, _ := send(t, c, "/", user)
		seen[b] = true
	}
	if len(seen) != 3 {
		t.Fatalf("back to round-robin: 3 requests reached %v", seen)
	}
}

// load sends requests from workers concurrently for d.
func load(t *testing.T, c *testcaddy.Caddy, workers int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := testcaddy.Client.Get(fmt.Sprintf("http://127.0.0.1:%d/", c.HTTPPort))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// waitInFlightZero checks that every in-flight count went back to 0.
func waitInFlightZero(t *testing.T) {
	t.Helper()
	pool := upstreams.ActiveRegistry().Pool("lb")
	for range 100 {
		busy := false
		for _, a := range pool.Addresses {
			busy = busy || a.State.InFlight.Load() != 0
		}
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, a := range pool.Addresses {
		t.Errorf("%s: %d requests still counted in flight", a.Dial, a.State.InFlight.Load())
	}
}

// TestLeastConnectionsAvoidsTheSlowBackend: with 12 concurrent clients and
// one backend 40 times slower than the others, least-connections keeps
// equal in-flight counts, so the slow backend serves about 1/81 of the
// requests; the test allows up to 10 % (round-robin would give it 33 %).
func TestLeastConnectionsAvoidsTheSlowBackend(t *testing.T) {
	bs := threeBackends(t)
	bs[0].Delay.Store(int64(5 * time.Millisecond))
	bs[1].Delay.Store(int64(5 * time.Millisecond))
	bs[2].Delay.Store(int64(200 * time.Millisecond))
	c := startBalancing(t, "algorithm least-connections", bs, []int{100, 100, 100})
	load(t, c, 12, 1500*time.Millisecond)
	total := bs[0].Hits.Load() + bs[1].Hits.Load() + bs[2].Hits.Load()
	t.Logf("hits a=%d b=%d slow=%d", bs[0].Hits.Load(), bs[1].Hits.Load(), bs[2].Hits.Load())
	if share := float64(bs[2].Hits.Load()) / float64(total); share > 0.10 {
		t.Errorf("slow backend served %.1f %% of %d requests, want at most 10 %%", share*100, total)
	}
	waitInFlightZero(t)
}

// TestLeastConnectionsIsWeightRelative: two equal backends weighted 300
// and 100 under 16 concurrent clients settle at in-flight counts near
// 3:1, so the heavier one serves about 78 % (accepted: 65 % to 90 %).
func TestLeastConnectionsIsWeightRelative(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	a.Delay.Store(int64(20 * time.Millisecond))
	b.Delay.Store(int64(20 * time.Millisecond))
	c := startBalancing(t, "algorithm least-connections", []*testcaddy.Backend{a, b}, []int{300, 100})
	load(t, c, 16, time.Second)
	share := float64(a.Hits.Load()) / float64(a.Hits.Load()+b.Hits.Load())
	t.Logf("hits a=%d b=%d", a.Hits.Load(), b.Hits.Load())
	if share < 0.65 || share > 0.90 {
		t.Errorf("weight-300 backend served %.1f %%, want 65–90 %%", share*100)
	}
	waitInFlightZero(t)
}

// TestLatencyAvoidsTheSlowBackend: of 200 sequential requests, a backend
// 50 ms slower than the other two is probed once or twice, then left alone
// while its EWMA decays (time constant 10 s); the test allows 10 requests.
// Like Kong's, the algorithm takes the lowest EWMA, so two equally fast
// backends need not share sequential traffic evenly.
func TestLatencyAvoidsTheSlowBackend(t *testing.T) {
	bs := threeBackends(t)
	bs[2].Delay.Store(int64(50 * time.Millisecond))
	c := startBalancing(t, "algorithm latency", bs, []int{100, 100, 100})
	for range 200 {
		send(t, c, "/", nil)
	}
	t.Logf("hits a=%d b=%d slow=%d", bs[0].Hits.Load(), bs[1].Hits.Load(), bs[2].Hits.Load())
	if n := bs[2].Hits.Load(); n > 10 {
		t.Errorf("slow backend served %d of 200 requests, want at most 10", n)
	}
	if slow := addressOf(t, "lb", bs[2]).State.LatencySeconds(); slow < 0.03 {
		t.Errorf("slow backend's EWMA is %.3f s, want about 0.05", slow)
	}
	waitInFlightZero(t)
}

// TestStickySessions: a new client is balanced by weighted round-robin and
// given a cookie; with the cookie it stays on its target, also after
// targets are added; when that target goes down it moves and gets a new
// cookie.
func TestStickySessions(t *testing.T) {
	bs := threeBackends(t)
	c := startBalancing(t, "algorithm sticky-sessions\n\t\t\tsticky_sessions_cookie srv\n\t\t\tsticky_sessions_cookie_path /shop",
		bs, []int{100, 100, 100})
	counts := map[string]int{}
	cookies := map[string]string{}
	for range 300 {
		b, resp := send(t, c, "/", nil)
		counts[b]++
		set := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(set, "srv=") || !strings.HasSuffix(set, "; Path=/shop; SameSite=Lax; HttpOnly") {
			t.Fatalf("Set-Cookie %q", set)
		}
		cookies[b] = strings.TrimPrefix(strings.Split(set, ";")[0], "srv=")
	}
	if counts["a"] != 100 || counts["b"] != 100 || counts["c"] != 100 {
		t.Fatalf("new sessions: %v, want exactly 100 each (smooth round-robin)", counts)
	}
	reg := upstreams.ActiveRegistry()
	for _, extra := range []string{"d", "e"} {
		if _, err := reg.CreateTarget(context.Background(), "lb", map[string]any{"target": testcaddy.StartBackend(t, extra).Addr}); err != nil {
			t.Fatal(err)
		}
	}
	withCookie := func(name string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "srv", Value: cookies[name]}) }
	}
	for _, name := range []string{"a", "b", "c"} {
		for range 10 {
			if got, resp := send(t, c, "/", withCookie(name)); got != name || resp.Header.Get("Set-Cookie") != "" {
				t.Fatalf("session of %s went to %s (Set-Cookie %q)", name, got, resp.Header.Get("Set-Cookie"))
			}
		}
	}
	addressOf(t, "lb", bs[0]).State.ForceHealthy(false)
	got, resp := send(t, c, "/", withCookie("a"))
	if got == "a" || !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "srv=") {
		t.Fatalf("session of unhealthy a went to %s with Set-Cookie %q", got, resp.Header.Get("Set-Cookie"))
	}
}

// TestHashRetryReachesAnotherTarget: keys owned by a dead target are
// retried on a live one.
func TestHashRetryReachesAnotherTarget(t *testing.T) {
	bs := threeBackends(t)
	bs[1].Close()
	c := startBalancing(t, "hash_on header\n\t\t\thash_on_header X-User", bs, []int{100, 100, 100})
	for i := range 60 {
		if b, _ := send(t, c, "/", func(r *http.Request) { r.Header.Set("X-User", fmt.Sprint(i)) }); b == "b" {
			t.Fatal("dead backend answered")
		}
	}
}
