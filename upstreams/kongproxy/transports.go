package kongproxy

import (
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/reverseproxy"
)

// transportSettings is what a service's transport is built from. Services
// with equal settings share one transport, so one pool of idle connections
// per target address (net/http keys its pools by scheme and dial address),
// instead of a pool per service that a request spread over many services
// would seldom find warm.
type transportSettings struct {
	connect, read, write time.Duration // Kong's connect/read/write_timeout; 0 is Caddy's default
	tls, verify          bool          // https/grpcs, and tls_verify
	versions             string        // HTTP versions: "" (Caddy's), "2" (grpcs), "h2c 2" (grpc)
}

// settingsOf maps a service's fields onto its transport's settings:
//
//   - connect_timeout → dial_timeout, read_timeout → read_timeout (and
//     response_header_timeout), write_timeout → write_timeout (Kong's are
//     milliseconds, nginx's proxy_*_timeout: between two reads or writes);
//   - protocol https/grpcs → TLS, verified only with tls_verify true
//     (Kong's default, proxy_ssl_verify off); grpc → h2c.
func settingsOf(s *upstreams.Service) transportSettings {
	ts := transportSettings{
		connect: millis(s.ConnectTimeout),
		read:    millis(s.ReadTimeout),
		write:   millis(s.WriteTimeout),
	}
	switch s.Protocol {
	case "https", "grpcs":
		ts.tls = true
		ts.verify = s.TLSVerify != nil && *s.TLSVerify
		if s.Protocol == "grpcs" {
			ts.versions = "2"
		}
	case "grpc":
		ts.versions = "h2c 2"
	}
	return ts
}

// defaultPort is the port left out of the Host header: 443 with TLS
// (https, grpcs), else 80.
func (ts transportSettings) defaultPort() string {
	if ts.tls {
		return "443"
	}
	return "80"
}

// build returns the registry transport of these settings, provisioned.
func (ts transportSettings) build(ctx caddy.Context) (*reverseproxy.Transport, error) {
	t := &reverseproxy.Transport{HTTPTransport: caddyrp.HTTPTransport{
		DialTimeout:           caddy.Duration(ts.connect),
		ReadTimeout:           caddy.Duration(ts.read),
		ResponseHeaderTimeout: caddy.Duration(ts.read),
		WriteTimeout:          caddy.Duration(ts.write),
	}}
	if ts.tls {
		t.TLS = &caddyrp.TLSConfig{InsecureSkipVerify: !ts.verify}
	}
	switch ts.versions {
	case "2":
		t.Versions = []string{"2"}
	case "h2c 2":
		t.Versions = []string{"h2c", "2"}
	}
	if err := t.Provision(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// sharedTransport is a provisioned transport and the number of service
// proxies using it.
type sharedTransport struct {
	transport *reverseproxy.Transport
	users     int
}

// transports hands out one transport per distinct settings to the shared
// proxies of a kong_proxy handler (services of different retries but
// equal settings have two proxies and one transport), and closes a
// transport's idle connections when its last proxy is cleaned up (no
// service has those settings any more, or the handler was replaced by a
// reload). What differs per service (its Host header, its upstream and
// passive health checks) is not the transport's: the Host and Kong's
// headers are set per request by hostTransport, and the registry
// transport reports each round trip to the upstream of the request's
// attempt.
type transports struct {
	ctx        caddy.Context
	mu         sync.Mutex
	bySettings map[transportSettings]*sharedTransport
}

func newTransports(ctx caddy.Context) *transports {
	return &transports{ctx: ctx, bySettings: make(map[transportSettings]*sharedTransport)}
}

// acquire returns the transport of these settings, building it if no
// service proxy uses one; each acquire is matched by one release.
func (tr *transports) acquire(ts transportSettings) (*reverseproxy.Transport, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if st := tr.bySettings[ts]; st != nil {
		st.users++
		return st.transport, nil
	}
	t, err := ts.build(tr.ctx)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	tr.bySettings[ts] = &sharedTransport{transport: t, users: 1}
	return t, nil
}

// release gives back a transport acquired with these settings; the last
// user's release closes its idle connections (requests in flight finish
// on theirs).
func (tr *transports) release(ts transportSettings) {
	tr.mu.Lock()
	st := tr.bySettings[ts]
	if st == nil {
		tr.mu.Unlock()
		return
	}
	st.users--
	if st.users > 0 {
		tr.mu.Unlock()
		return
	}
	delete(tr.bySettings, ts)
	tr.mu.Unlock()
	_ = st.transport.Cleanup()
}

// millis converts Kong's millisecond timeouts; 0 leaves Caddy's default.
func millis(ms int) time.Duration {
	return time.Duration(ms) * time.Millisecond
}
