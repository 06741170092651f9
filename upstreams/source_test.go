package upstreams_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testcaddy"
	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

func init() { caddy.RegisterModule(pushSource{}) }

// pushSource is a target source for tests, written as a third-party
// source would be: its Run hands the registry's sink to the test (by Key)
// and waits. With FailFirst, its first Run fails at once.
type pushSource struct {
	Key       string `json:"key"`
	FailFirst bool   `json:"fail_first,omitempty"`
}

// sinks are the sinks of running pushSources, by key.
var sinks sync.Map // key -> chan targets.Sink

func (pushSource) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "upstreams.sources.test_push", New: func() caddy.Module { return new(pushSource) }}
}

func (p *pushSource) Run(ctx context.Context, sink targets.Sink) error {
	ch, _ := sinks.LoadOrStore(p.Key, make(chan targets.Sink, 4))
	if p.FailFirst {
		p.FailFirst = false
		return errors.New("cluster unreachable")
	}
	ch.(chan targets.Sink) <- sink
	<-ctx.Done()
	return nil
}

// sinkFor waits (5 s at most) for the sink of the pushSource with key.
func sinkFor(t *testing.T, key string) targets.Sink {
	t.Helper()
	ch, _ := sinks.LoadOrStore(key, make(chan targets.Sink, 4))
	select {
	case s := <-ch.(chan targets.Sink):
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("source %s never ran", key)
		return nil
	}
}

// quietLogs is the JSON logging config of these tests: errors only.
const quietLogs = `"logging":{"logs":{"default":{"level":"ERROR"}}}`

// loadPushConfig loads a JSON config whose upstream "pushed" takes its
// targets from a pushSource.
func loadPushConfig(t *testing.T, source string) {
	t.Helper()
	c := testcaddy.New(t)
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d","config":{"persist":false}},`+quietLogs+`,"apps":{"upstreams":{
		"store":{"module":"bolt","path":%q},
		"upstreams":[{"name":"pushed","source":%s}]}}}`,
		c.AdminPort, filepath.Join(t.TempDir(), "r.db"), source)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })
}

// pushedTargets renders the registry's targets of "pushed" as sorted
// "target=weight" strings.
func pushedTargets() string {
	list, _ := upstreams.ActiveRegistry().Targets("pushed")
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = fmt.Sprintf("%s=%d", t.Target, t.Weight)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestSourceEndpointsAreCleaned pushes endpoints through a source's sink:
// addresses are normalised like Admin API targets, invalid ones dropped,
// weights clamped, terminating ones weigh 0 and lose to a ready twin.
func TestSourceEndpointsAreCleaned(t *testing.T) {
	loadPushConfig(t, `{"module":"test_push","key":"clean"}`)
	sink := sinkFor(t, "clean")
	sink.Update([]targets.Endpoint{
		{Host: "127.0.0.1", Port: 8080, Weight: 50},
		{Host: "127.0.0.1", Port: 8080, Weight: 50, Terminating: true}, // the same address, draining elsewhere
		{Host: "::1", Port: 9000, Weight: 70000},
		{Host: "127.0.0.2", Port: 8080, Weight: 10, Terminating: true},
		{Host: "", Port: 80, Weight: 1},
		{Host: "127.0.0.3", Port: 70000, Weight: 1},
		{Host: "not a host", Port: 80, Weight: 1},
	})
	v6, _ := schema.NormalizeTarget("[::1]:9000")
	want := "127.0.0.1:8080=50 127.0.0.2:8080=0 " + v6 + "=65535" // sorted
	if got := pushedTargets(); got != want {
		t.Fatalf("targets %q, want %q", got, want)
	}
	sink.Update(nil)
	if got := pushedTargets(); got != "" {
		t.Fatalf("targets after an empty update: %q", got)
	}
}

// TestSourceTargetsFollowTheUpstreamName deletes the upstream of a running
// source and creates it again: the source's targets come back, with ids
// derived from the new upstream's id.
func TestSourceTargetsFollowTheUpstreamName(t *testing.T) {
	loadPushConfig(t, `{"module":"test_push","key":"rename"}`)
	sink := sinkFor(t, "rename")
	sink.Update([]targets.Endpoint{{Host: "127.0.0.1", Port: 8080, Weight: 100}})
	reg := upstreams.ActiveRegistry()
	if err := reg.DeleteUpstream(context.Background(), "pushed"); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Targets("pushed"); ok || reg.Pool("pushed") != nil {
		t.Fatal("the deleted upstream still has targets or a pool")
	}
	u, err := reg.CreateUpstream(context.Background(), map[string]any{"name": "pushed"})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := reg.Targets("pushed")
	if len(list) != 1 || list[0].ID != upstreams.SourcedTargetID(u.ID, "127.0.0.1:8080") || list[0].Upstream.ID != u.ID {
		t.Fatalf("targets of the new upstream: %+v", list)
	}
	if p := reg.Pool("pushed"); p == nil || len(p.Addresses) != 1 {
		t.Fatalf("pool of the new upstream: %+v", p)
	}
}

// TestFailingSourceRunsAgain checks that a source whose Run fails is run
// again (after about a second) and then feeds its upstream.
func TestFailingSourceRunsAgain(t *testing.T) {
	start := time.Now()
	loadPushConfig(t, `{"module":"test_push","key":"retry","fail_first":true}`)
	sink := sinkFor(t, "retry")
	t.Logf("second run after %v", time.Since(start))
	sink.Update([]targets.Endpoint{{Host: "127.0.0.1", Port: 8080, Weight: 100}})
	if got := pushedTargets(); got != "127.0.0.1:8080=100" {
		t.Fatalf("targets %q", got)
	}
}

// TestSourceConfigErrors checks the config errors of "source".
func TestSourceConfigErrors(t *testing.T) {
	for _, tc := range []struct{ upstream, want string }{
		{`{"name":"x","source":{"module":"test_push"},"targets":[{"target":"127.0.0.1:1"}]}`, `"targets" and "source" cannot be combined`},
		{`{"name":"x","source":{"key":"k"}}`, "the module name is required"},
		{`{"name":"x","source":"kubernetes"}`, "source: expected an object"},
		{`{"name":"x","source":{"module":"nope"}}`, "upstreams.sources.nope"},
		{`{"name":"x","source":{"module":"test_push","bogus":1}}`, "bogus"},
	} {
		cfg := fmt.Sprintf(`{"admin":{"disabled":true,"config":{"persist":false}},`+quietLogs+`,"apps":{"upstreams":{
			"store":{"module":"bolt","path":%q},"upstreams":[%s]}}}`, filepath.Join(t.TempDir(), "r.db"), tc.upstream)
		if err := caddy.Load([]byte(cfg), true); err == nil || !strings.Contains(err.Error(), tc.want) {
			caddy.Stop()
			t.Fatalf("%s: error %v, want one containing %q", tc.upstream, err, tc.want)
		}
	}
}
