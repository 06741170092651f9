package kongproxy

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// TestTransportsRefcount: services of equal settings get the same
// transport, others another; the transport lives until its last user
// releases it, and a later acquire builds a new one.
func TestTransportsRefcount(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	tr := newTransports(ctx)
	a := settingsOf(&upstreams.Service{Protocol: "http", ReadTimeout: 60000})
	b := settingsOf(&upstreams.Service{Protocol: "http", ReadTimeout: 60000})
	other := settingsOf(&upstreams.Service{Protocol: "http", ReadTimeout: 1000})
	ta := acquired(t, tr, a)
	tb := acquired(t, tr, b)
	tOther := acquired(t, tr, other)
	if ta != tb {
		t.Errorf("equal settings got two transports")
	}
	if ta == tOther {
		t.Errorf("different read_timeouts got the same transport")
	}
	tr.release(a)
	if again := acquired(t, tr, b); again != ta {
		t.Errorf("the transport was dropped while a service still used it")
	}
	tr.release(b)
	tr.release(b)
	if len(tr.bySettings) != 1 {
		t.Errorf("%d transports kept after their users released them, want 1 (the other settings')", len(tr.bySettings))
	}
	if fresh := acquired(t, tr, a); fresh == ta {
		t.Errorf("a released transport was handed out again")
	}
}

// TestSettingsOf: what tells two services' transports apart.
func TestSettingsOf(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name string
		a, b upstreams.Service
		same bool
	}{
		{"http and ws", upstreams.Service{Protocol: "http"}, upstreams.Service{Protocol: "ws"}, true},
		{"http and https", upstreams.Service{Protocol: "http"}, upstreams.Service{Protocol: "https"}, false},
		{"https verified or not", upstreams.Service{Protocol: "https"}, upstreams.Service{Protocol: "https", TLSVerify: &yes}, false},
		{"tls_verify without TLS", upstreams.Service{Protocol: "http"}, upstreams.Service{Protocol: "http", TLSVerify: &yes}, true},
		{"grpc and http", upstreams.Service{Protocol: "grpc"}, upstreams.Service{Protocol: "http"}, false},
		{"grpcs and https", upstreams.Service{Protocol: "grpcs"}, upstreams.Service{Protocol: "https"}, false},
		{"connect_timeout", upstreams.Service{ConnectTimeout: 1}, upstreams.Service{ConnectTimeout: 2}, false},
		{"write_timeout", upstreams.Service{WriteTimeout: 1}, upstreams.Service{WriteTimeout: 2}, false},
		{"host and retries", upstreams.Service{Host: "x", Retries: 1}, upstreams.Service{Host: "y", Retries: 5}, true},
	} {
		if got := settingsOf(&c.a) == settingsOf(&c.b); got != c.same {
			t.Errorf("%s: same transport %v, want %v", c.name, got, c.same)
		}
	}
}

// acquired acquires the transport of ts and fails the test on an error.
func acquired(t *testing.T, tr *transports, ts transportSettings) *reverseproxy.Transport {
	t.Helper()
	rt, err := tr.acquire(ts)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}
