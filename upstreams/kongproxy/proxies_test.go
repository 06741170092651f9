package kongproxy

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// snapshotOf is a compiled snapshot leading to these services (no router:
// sync reads only the services).
func snapshotOf(services ...*upstreams.Service) *compiled {
	c := &compiled{services: map[string]*serviceEntry{}}
	for _, s := range services {
		c.services[s.ID] = &serviceEntry{service: s}
	}
	return c
}

// TestServicesShareProxies: services with equal transport settings and
// retries get one reverse_proxy handler, whatever their hosts; another
// retries gets another handler over the same transport; a handler no
// service of a new snapshot uses is cleaned up, its transport released
// with its last handler; after cleanupAll nothing is built any more.
func TestServicesShareProxies(t *testing.T) {
	// reverse_proxy's handlers provision in a running configuration's
	// context (they load the events app).
	if err := caddy.Load([]byte(`{"admin":{"disabled":true}}`), true); err != nil {
		t.Fatal(err)
	}
	defer caddy.Stop()
	p := newProxies(caddy.ActiveContext(), zap.NewNop())
	a := &upstreams.Service{ID: "a", Host: "upstream-a", Port: 80, Protocol: "http", Retries: 5}
	b := &upstreams.Service{ID: "b", Host: "example.test", Port: 8080, Protocol: "http", Retries: 5}
	once := &upstreams.Service{ID: "once", Host: "upstream-a", Port: 80, Protocol: "http", Retries: 1}
	slow := &upstreams.Service{ID: "slow", Host: "upstream-a", Port: 80, Protocol: "http", Retries: 5, ReadTimeout: 1000}
	c := snapshotOf(a, b, once, slow)
	p.sync(c)
	proxyOf := func(c *compiled, id string) *sharedProxy {
		e := c.services[id]
		if e.proxy == nil {
			t.Fatalf("service %s has no proxy: %v", id, e.err)
		}
		return e.proxy
	}
	if proxyOf(c, "a") != proxyOf(c, "b") {
		t.Errorf("two services of equal settings and retries got two handlers")
	}
	if proxyOf(c, "a") == proxyOf(c, "once") || proxyOf(c, "a") == proxyOf(c, "slow") {
		t.Errorf("services of different retries or read_timeout share a handler")
	}
	if len(p.byKey) != 3 || len(p.transports.bySettings) != 2 {
		t.Errorf("%d handlers over %d transports, want 3 over 2 (retries share the transport)", len(p.byKey), len(p.transports.bySettings))
	}
	kept := proxyOf(c, "a")
	next := snapshotOf(b, slow)
	p.sync(next)
	if proxyOf(next, "b") != kept {
		t.Errorf("a handler still in use was rebuilt")
	}
	if len(p.byKey) != 2 {
		t.Errorf("%d handlers after the retries-1 service went away, want 2", len(p.byKey))
	}
	p.sync(snapshotOf(b))
	if len(p.byKey) != 1 || len(p.transports.bySettings) != 1 {
		t.Errorf("%d handlers over %d transports after the slow service went away, want 1 over 1", len(p.byKey), len(p.transports.bySettings))
	}
	p.cleanupAll()
	if len(p.byKey) != 0 || len(p.transports.bySettings) != 0 {
		t.Errorf("%d handlers over %d transports left after cleanupAll", len(p.byKey), len(p.transports.bySettings))
	}
	late := snapshotOf(a)
	p.sync(late) // a request in flight during a reload compiles a newer snapshot
	if e := late.services["a"]; e.proxy != nil || e.err != errClosed || len(p.byKey) != 0 {
		t.Errorf("a sync after cleanupAll built a handler (%v, %v) that nothing would clean up", e.proxy, e.err)
	}
}
