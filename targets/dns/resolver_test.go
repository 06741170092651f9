package dns

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	miekgdns "github.com/miekg/dns"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testdns"
	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// newResolver provisions a resolver asking only srv.
func newResolver(t *testing.T, srv *testdns.Server, configure func(*Resolver)) *Resolver {
	t.Helper()
	r := &Resolver{Addresses: []string{srv.Addr}, Timeout: caddy.Duration(time.Second)}
	if configure != nil {
		configure(r)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := r.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	return r
}

func resolve(t *testing.T, r *Resolver, host string) targets.Resolution {
	t.Helper()
	res, err := r.Resolve(context.Background(), host)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", host, err)
	}
	return res
}

func TestResolveAThenAAAA(t *testing.T) {
	srv := testdns.Start(t)
	srv.Set("both.test", "A", "30 IN A 127.0.0.3", "20 IN A 127.0.0.2")
	srv.Set("both.test", "AAAA", "30 IN AAAA ::1")
	srv.Set("six.test", "AAAA", "0 IN AAAA ::1")
	r := newResolver(t, srv, nil)

	res := resolve(t, r, "both.test")
	if res.Type != targets.RecordA || len(res.Addresses) != 2 || res.Addresses[0].IP != "127.0.0.2" || res.Addresses[1].IP != "127.0.0.3" {
		t.Fatalf("both.test = %+v, want A 127.0.0.2, 127.0.0.3 (sorted)", res)
	}
	if res.TTL != 20*time.Second {
		t.Fatalf("TTL = %s, want the smallest record TTL, 20s", res.TTL)
	}
	if srv.Queries("both.test", "AAAA") != 0 {
		t.Fatal("AAAA was asked although A answered")
	}
	res = resolve(t, r, "six.test")
	if res.Type != targets.RecordAAAA || len(res.Addresses) != 1 || res.Addresses[0].IP != "::1" {
		t.Fatalf("six.test = %+v, want AAAA ::1", res)
	}
	if res.TTL != DefaultMinTTL {
		t.Fatalf("TTL 0 gave %s, want min_ttl %s", res.TTL, DefaultMinTTL)
	}
}

func TestResolveSRV(t *testing.T) {
	srv := testdns.Start(t)
	srv.Set("_http._tcp.svc.test", "SRV",
		"10 IN SRV 1 30 8081 a.svc.test.",
		"10 IN SRV 1 0 0 b.svc.test.",
		"10 IN SRV 2 50 8083 backup.svc.test.")
	srv.Set("a.svc.test", "A", "5 IN A 127.0.0.2")
	srv.Set("b.svc.test", "AAAA", "60 IN AAAA ::1")
	srv.Set("backup.svc.test", "A", "60 IN A 127.0.0.9")
	r := newResolver(t, srv, nil)

	res := resolve(t, r, "_http._tcp.svc.test")
	want := []targets.Resolved{
		{IP: "127.0.0.2", Port: 8081, Weight: 30, Name: "a.svc.test"},
		{IP: "::1", Port: 0, Weight: 1, Name: "b.svc.test"},
	}
	if res.Type != targets.RecordSRV || len(res.Addresses) != len(want) {
		t.Fatalf("SRV = %+v, want %+v (lowest priority only)", res, want)
	}
	for i := range want {
		if res.Addresses[i] != want[i] {
			t.Fatalf("address %d = %+v, want %+v", i, res.Addresses[i], want[i])
		}
	}
	if res.TTL != 5*time.Second {
		t.Fatalf("TTL = %s, want 5s, the smallest of SRV and address records", res.TTL)
	}
}

func TestResolveFailures(t *testing.T) {
	srv := testdns.Start(t)
	srv.Set("many.test", "A", "30 IN A 127.0.0.4", "30 IN A 127.0.0.3", "30 IN A 127.0.0.2")
	r := newResolver(t, srv, func(r *Resolver) { r.MaxAddresses = 2 })

	if res := resolve(t, r, "many.test"); len(res.Addresses) != 2 || res.Addresses[1].IP != "127.0.0.3" {
		t.Fatalf("capped answer = %+v, want the first 2 in address order", res.Addresses)
	}
	if _, err := r.Resolve(context.Background(), "missing.test"); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("missing name: err = %v, want NXDOMAIN", err)
	}
	srv.Fail(miekgdns.RcodeServerFailure)
	if _, err := r.Resolve(context.Background(), "many.test"); err == nil || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("SERVFAIL: err = %v", err)
	}
}

func TestHostsFileComesFirst(t *testing.T) {
	srv := testdns.Start(t)
	srv.Set("web.local", "A", "30 IN A 127.0.0.9")
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte("# test\n127.0.0.5 web.local web\n::1 six.local # v6 only\nbad line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newResolver(t, srv, func(r *Resolver) { r.HostsFile = path })
	if res := resolve(t, r, "WEB.local"); res.Type != targets.RecordA || len(res.Addresses) != 1 || res.Addresses[0].IP != "127.0.0.5" {
		t.Fatalf("web.local = %+v, want 127.0.0.5 from the hosts file", res)
	}
	if res := resolve(t, r, "six.local"); res.Type != targets.RecordAAAA || res.Addresses[0].IP != "::1" {
		t.Fatalf("six.local = %+v, want AAAA ::1 from the hosts file", res)
	}
	if srv.Queries("web.local", "A") != 0 {
		t.Fatal("DNS was asked for a name of the hosts file")
	}
	off := newResolver(t, srv, func(r *Resolver) { r.HostsFile = "off" })
	if res := resolve(t, off, "web.local"); res.Addresses[0].IP != "127.0.0.9" {
		t.Fatalf("hosts_file off: %+v, want the DNS answer", res)
	}
}
