package upstreams

import (
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"

	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// activeChecker runs Kong's active health checks: one probe loop per
// address of every target (two targets resolving to the same ip:port are
// probed each with its own Host) of every upstream whose healthchecks.active intervals are not
// both 0. Loops follow pool publications: they start when an address
// appears, restart when the upstream's active settings change, and stop
// when the address or upstream goes away or the registry closes.
type activeChecker struct {
	logger  *zap.Logger
	signals *healthSignals

	mu     sync.Mutex
	probes map[string]*upstreamProbes // by upstream id
	wg     sync.WaitGroup
}

// upstreamProbes are the running probe loops of one upstream.
type upstreamProbes struct {
	config ActiveHealthcheck
	loops  map[string]context.CancelFunc // by address state key: one per target and address
	// slots bounds the upstream's probes in progress to active.concurrency.
	slots chan struct{}
}

func newActiveChecker(logger *zap.Logger, signals *healthSignals) *activeChecker {
	return &activeChecker{logger: logger, signals: signals, probes: map[string]*upstreamProbes{}}
}

// activeEnabled reports whether active probing runs for the settings.
func activeEnabled(a ActiveHealthcheck) bool {
	return (a.Healthy.Interval > 0 || a.Unhealthy.Interval > 0) && (a.Type == "http" || a.Type == "https" || a.Type == "tcp")
}

// sync reconciles the probe loops of a published pool.
func (c *activeChecker) sync(p *Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := p.Upstream.ID
	cfg := p.Upstream.Healthchecks.Active
	cur := c.probes[id]
	if cur != nil && !reflect.DeepEqual(cur.config, cfg) {
		c.stopLocked(id)
		cur = nil
	}
	if !activeEnabled(cfg) {
		c.stopLocked(id)
		return
	}
	if cur == nil {
		cur = &upstreamProbes{config: cfg, loops: map[string]context.CancelFunc{},
			slots: make(chan struct{}, max(1, cfg.Concurrency))}
		c.probes[id] = cur
	}
	want := map[string]*Address{}
	for _, a := range p.Addresses {
		if a.Weight > 0 { // Kong registers only addresses with weight > 0
			want[a.stateKey()] = a
		}
	}
	for key, cancel := range cur.loops {
		if want[key] == nil {
			cancel()
			delete(cur.loops, key)
		}
	}
	for key, a := range want {
		if cur.loops[key] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		cur.loops[key] = cancel
		c.wg.Add(1)
		go func(a *Address, u *Upstream, slots chan struct{}) {
			defer c.wg.Done()
			c.loop(ctx, u, a, slots)
		}(a, p.Upstream, cur.slots)
	}
}

// stop ends the probe loops of an upstream.
func (c *activeChecker) stop(upstreamID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(upstreamID)
}

func (c *activeChecker) stopLocked(upstreamID string) {
	if cur := c.probes[upstreamID]; cur != nil {
		for _, cancel := range cur.loops {
			cancel()
		}
		delete(c.probes, upstreamID)
	}
}

// close ends every loop and waits for them.
func (c *activeChecker) close() {
	c.mu.Lock()
	for id := range c.probes {
		c.stopLocked(id)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// loop probes one address: every healthy.interval seconds while it is
// healthy, every unhealthy.interval seconds while it is not (0 pauses).
// A probe runs only while it holds one of the upstream's slots, so at most
// active.concurrency probes of the upstream are in progress at once.
func (c *activeChecker) loop(ctx context.Context, u *Upstream, a *Address, slots chan struct{}) {
	cfg := u.Healthchecks.Active
	limits := health.Limits{Successes: cfg.Healthy.Successes, HTTPFailures: cfg.Unhealthy.HTTPFailures,
		TCPFailures: cfg.Unhealthy.TCPFailures, Timeouts: cfg.Unhealthy.Timeouts}
	client := probeClient(cfg, hostName(u, a))
	c.signals.watching(u, a)
	defer c.signals.unwatched(u, a)
	for {
		interval := cfg.Healthy.Interval
		if !a.State.Healthy() {
			interval = cfg.Unhealthy.Interval
		}
		wait := time.Duration(interval * float64(time.Second))
		if interval == 0 {
			wait = 250 * time.Millisecond // paused: look again for a state change
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if interval == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		report := c.probe(ctx, client, u, a)
		<-slots
		if ctx.Err() != nil {
			return
		}
		c.signals.probed(u, a, report)
		if flipped, healthy := a.State.Observe(report, limits); flipped {
			c.signals.changed(u, a, healthy, "active check")
		}
	}
}

// probe runs one check and classifies it as Kong does: connect timeout →
// timeout, other connect or TLS error → tcp failure, a status in
// healthy.http_statuses → success, in unhealthy.http_statuses (or
// unreadable) → http failure, any other status → success for tcp probes
// and ignored (reported as neither) for http ones.
func (c *activeChecker) probe(ctx context.Context, client *http.Client, u *Upstream, a *Address) health.Report {
	cfg := u.Healthchecks.Active
	timeout := time.Duration(cfg.Timeout * float64(time.Second))
	if cfg.Type == "tcp" {
		conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", a.Dial)
		if err != nil {
			return classifyDialError(err)
		}
		conn.Close()
		return health.Success
	}
	scheme := "http"
	if cfg.Type == "https" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+a.Dial+cfg.HTTPPath, nil)
	if err != nil {
		return health.HTTPFailure
	}
	for name, values := range cfg.Headers {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	req.Host = probeHost(u, a)
	resp, err := client.Do(req)
	if err != nil {
		return classifyDialError(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classifyStatus(resp.StatusCode, cfg.Healthy.HTTPStatuses, cfg.Unhealthy.HTTPStatuses)
}

func classifyDialError(err error) health.Report {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return health.Timeout
	}
	return health.TCPFailure
}

// probeHost is the Host header of probes: the upstream's host_header, else
// the target's hostname or IP, or the SRV name with use_srv_name (with the
// port unless it is the scheme's default).
func probeHost(u *Upstream, a *Address) string {
	if u.HostHeader != nil {
		return *u.HostHeader
	}
	host := hostName(u, a)
	if (u.Healthchecks.Active.Type == "https" && a.Port == 443) || (u.Healthchecks.Active.Type == "http" && a.Port == 80) {
		return hostForHeader(host)
	}
	return net.JoinHostPort(host, strconv.Itoa(a.Port))
}

func hostForHeader(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}

// probeClient builds the HTTP client of one address's probes: no
// keep-alive (Kong sends HTTP/1.0 probes on fresh connections), the
// configured timeout, and TLS with https_sni and https_verify_certificate.
func probeClient(cfg ActiveHealthcheck, host string) *http.Client {
	timeout := time.Duration(cfg.Timeout * float64(time.Second))
	sni := host
	if cfg.HTTPSSNI != nil {
		sni = *cfg.HTTPSSNI
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{Timeout: timeout}).DialContext,
			TLSClientConfig: &tls.Config{
				ServerName:         sni,
				InsecureSkipVerify: !cfg.HTTPSVerifyCertificate, //nolint:gosec // the user's choice, as in Kong
			},
			TLSHandshakeTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
