package upstreams_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
)

func init() { caddy.RegisterModule(eventRecorder{}) }

// recorded holds the events the test handler saw.
var recorded struct {
	sync.Mutex
	events []string
}

// eventRecorder is an events.handlers module that records health events.
type eventRecorder struct{}

func (eventRecorder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "events.handlers.test_recorder", New: func() caddy.Module { return new(eventRecorder) }}
}

func (eventRecorder) Handle(_ context.Context, e caddy.Event) error {
	recorded.Lock()
	defer recorded.Unlock()
	recorded.events = append(recorded.events, fmt.Sprintf("%s %v %v", e.Name(), e.Data["upstream"], e.Data["host"]))
	return nil
}

func (*eventRecorder) UnmarshalCaddyfile(d *caddyfile.Dispenser) error { d.Next(); return nil }

func TestHealthTransitionsAreMetricsAndEvents(t *testing.T) {
	recorded.Lock()
	recorded.events = nil
	recorded.Unlock()
	a, b := testcaddy.StartBackend(t, "a"), testcaddy.StartBackend(t, "b")
	c := testcaddy.New(t)
	cfg := strings.Replace(checkedConfig, "\tupstreams {", "\tevents {\n\t\ton healthy test_recorder\n\t\ton unhealthy test_recorder\n\t}\n\tupstreams {", 1)
	c.Load(t, cfg, "{DB}", filepath.Join(t.TempDir(), "r.db"), "{TYPE}", "http", "{A}", a.Addr, "{B}", b.Addr)
	b.Close()
	testcaddy.WaitFor(t, 5*time.Second, "b unhealthy", func() bool { return !addressHealthy("checked", b.Addr)() })
	testcaddy.StartBackendAt(t, "b", b.Addr)
	testcaddy.WaitFor(t, 5*time.Second, "b healthy", addressHealthy("checked", b.Addr))

	_, metrics := c.Admin(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		fmt.Sprintf(`caddy_upstreams_target_healthy{address=%q,target=%q,upstream="checked"} 1`, b.Addr, b.Addr),
		fmt.Sprintf(`caddy_upstreams_health_probes_total{address=%q,result="tcp_failure",upstream="checked"}`, b.Addr),
		fmt.Sprintf(`caddy_upstreams_health_probes_total{address=%q,result="success",upstream="checked"}`, a.Addr),
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	recorded.Lock()
	defer recorded.Unlock()
	want := []string{"unhealthy checked " + b.Addr, "healthy checked " + b.Addr}
	if fmt.Sprint(recorded.events) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", recorded.events, want)
	}
}
