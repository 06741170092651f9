package upstreams_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func TestMain(m *testing.M) { testcaddy.Main(m) }

const appConfig = `{` + testcaddy.GlobalOptions + `
	upstreams {
		store bolt {DB}
		upstream declared {
			target {A} {WEIGHT}
		}
	}
}
http://127.0.0.1:{HTTP} {
	handle_path /declared* {
		reverse_proxy {
			dynamic registry declared
			lb_policy registry
		}
	}
	handle_path /runtime* {
		reverse_proxy {
			dynamic registry runtime
			lb_policy registry
		}
	}
}
`

func TestRegistrySurvivesRestart(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "100")

	ctx := context.Background()
	reg := upstreams.ActiveRegistry()
	up, err := reg.CreateUpstream(ctx, map[string]any{"name": "runtime", "tags": []any{"t1"}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := reg.CreateTarget(ctx, "runtime", map[string]any{"target": b.Addr, "weight": 7.0})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := c.Get(t, "/runtime/x"); status != 200 || !strings.HasPrefix(body, "b ") {
		t.Fatalf("before restart: %d %q", status, body)
	}

	// stop Caddy entirely: the last reference to the registry closes the bbolt file
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if upstreams.ActiveRegistry() != nil {
		t.Fatal("registry still active after stop")
	}
	if status := tryGet(c); status != 0 {
		t.Fatalf("proxy still answering after stop: %d", status)
	}

	// start again on the same file
	c.Load(t, appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "100")
	reg2 := upstreams.ActiveRegistry()
	if reg2 == reg {
		t.Fatal("expected a freshly opened registry after a full stop")
	}
	got, ok := reg2.Upstream("runtime")
	if !ok || got.ID != up.ID || len(got.Tags) != 1 || got.Tags[0] != "t1" {
		t.Fatalf("runtime upstream after restart = %+v, %v; want id %s with tag t1", got, ok, up.ID)
	}
	gotT, ok := reg2.Target("runtime", tg.Target)
	if !ok || gotT.ID != tg.ID || gotT.Weight != 7 {
		t.Fatalf("runtime target after restart = %+v, %v", gotT, ok)
	}
	if status, body := c.Get(t, "/runtime/x"); status != 200 || !strings.HasPrefix(body, "b ") {
		t.Fatalf("after restart: %d %q", status, body)
	}
	if status, body := c.Get(t, "/declared/x"); status != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("declared after restart: %d %q", status, body)
	}
}

func TestRegistrySurvivesReloadThroughAdminLoad(t *testing.T) {
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "100")
	ctx := context.Background()
	reg := upstreams.ActiveRegistry()
	if _, err := reg.CreateUpstream(ctx, map[string]any{"name": "runtime"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateTarget(ctx, "runtime", map[string]any{"target": b.Addr}); err != nil {
		t.Fatal(err)
	}
	// a runtime change to a declared target...
	if _, err := reg.UpdateTarget(ctx, "declared", a.Addr, map[string]any{"weight": 5.0}); err != nil {
		t.Fatal(err)
	}
	// ...and a runtime target added to the declared upstream
	if _, err := reg.CreateTarget(ctx, "declared", map[string]any{"target": b.Addr, "weight": 0.0}); err != nil {
		t.Fatal(err)
	}

	// reload with a changed config through Caddy's admin API, as `caddy reload` does
	cfg := testcaddy.Adapt(t, c.Expand(appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "42"))
	if status, body := c.Admin(t, "POST", "/load", "application/json", cfg); status != 200 {
		t.Fatalf("POST /load: %d %s", status, body)
	}
	if upstreams.ActiveRegistry() != reg {
		t.Fatal("reload replaced the registry; it must survive reloads")
	}
	if _, ok := reg.Upstream("runtime"); !ok {
		t.Fatal("runtime upstream lost on reload")
	}
	declaredA, _ := reg.Target("declared", a.Addr)
	if declaredA.Weight != 42 {
		t.Fatalf("declared target weight after reload = %d, want the config's 42", declaredA.Weight)
	}
	if runtimeB, ok := reg.Target("declared", b.Addr); !ok || runtimeB.Weight != 0 {
		t.Fatalf("runtime target in a declared upstream: %+v %v; want kept with weight 0", runtimeB, ok)
	}
	if status, body := c.GetAfterReload(t, "/runtime/x"); status != 200 || !strings.HasPrefix(body, "b ") {
		t.Fatalf("runtime upstream after reload: %d %q", status, body)
	}
	if status, body := c.Get(t, "/declared/x"); status != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("declared upstream after reload: %d %q", status, body)
	}
}

func TestReloadWithoutChangesWritesNothing(t *testing.T) {
	a := testcaddy.StartBackend(t, "a")
	db := filepath.Join(t.TempDir(), "registry.db")
	c := testcaddy.New(t)
	c.Load(t, appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "100")
	reg := upstreams.ActiveRegistry()
	before, _ := reg.Upstream("declared")
	v := reg.Version()
	c.Load(t, appConfig, "{DB}", db, "{A}", a.Addr, "{WEIGHT}", "100")
	if reg.Version() != v {
		t.Fatalf("identical reload bumped the registry version %d -> %d", v, reg.Version())
	}
	after, _ := reg.Upstream("declared")
	if before.UpdatedAt != after.UpdatedAt || before.ID != after.ID {
		t.Fatalf("identical reload rewrote the declared upstream")
	}
}

func TestInvalidDeclaredUpstreamFailsTheLoad(t *testing.T) {
	c := testcaddy.New(t)
	for _, tc := range []struct{ name, block, want string }{
		{"ip name", "upstream 10.0.0.1 {\n}", "Invalid name ('10.0.0.1'); no ip addresses allowed"},
		{"slots", "upstream u {\n slots 5\n}", "slots: value should be between 10 and 65536"},
		{"weight", "upstream u {\n target 127.0.0.1:1 70000\n}", "weight: value should be between 0 and 65535"},
		{"target", "upstream u {\n target bad_host-:x\n}", "Invalid target; not a valid hostname or ip address"},
		{"hash fallback", "upstream u {\n hash_on cookie\n hash_on_cookie c\n hash_fallback ip\n}", "hash_fallback: expected one of: none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testcaddy.Adapt(t, c.Expand(`{`+testcaddy.GlobalOptions+`
	upstreams {
		store bolt `+filepath.Join(t.TempDir(), "x.db")+`
		`+tc.block+`
	}
}`))
			err := caddy.Validate(mustConfig(t, cfg))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func mustConfig(t *testing.T, raw []byte) *caddy.Config {
	t.Helper()
	cfg := new(caddy.Config)
	if err := json.Unmarshal(raw, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func tryGet(c *testcaddy.Caddy) int {
	resp, err := testcaddy.Client.Get("http://127.0.0.1:" + strconv.Itoa(c.HTTPPort) + "/")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
