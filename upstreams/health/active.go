package health

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Checker runs Kong's active health checks: one probe loop per
// address of every target (two targets resolving to the same ip:port are
// probed each with its own Host) of every upstream whose healthchecks.active
// intervals are not both 0. Loops follow Sync calls (one per pool
// publication): they start when an address appears, restart when the
// upstream's active settings change, and stop when the address or upstream
// goes away or the checker closes.
type Checker struct {
	logger  *zap.Logger
	signals *Signals

	mu     sync.Mutex
	probes map[string]*upstreamProbes // by upstream id
	wg     sync.WaitGroup
}

// Probe is one address of an upstream that active checks probe.
type Probe struct {
	// Labels name the address in metrics, logs and events; Labels.Dial is
	// where probes connect.
	Labels
	// Key identifies the address within its upstream (one per target and
	// address).
	Key string
	// Port is the address's TCP port.
	Port int
	// Host is the name probes send as Host and SNI (unless the upstream's
	// host_header or https_sni says otherwise): the target's hostname, the
	// SRV name, or the IP.
	Host string
	// State is the address's health, which probes change.
	State *State
}

// upstreamProbes are the running probe loops of one upstream.
type upstreamProbes struct {
	config     Active
	hostHeader *string
	loops      map[string]context.CancelFunc // by address state key: one per target and address
	// slots bounds the upstream's probes in progress to active.concurrency.
	slots chan struct{}
}

// NewChecker returns a checker that reports through signals.
func NewChecker(logger *zap.Logger, signals *Signals) *Checker {
	return &Checker{logger: logger, signals: signals, probes: map[string]*upstreamProbes{}}
}

// activeEnabled reports whether active probing runs for the settings.
func activeEnabled(a Active) bool {
	return (a.Healthy.Interval > 0 || a.Unhealthy.Interval > 0) && (a.Type == "http" || a.Type == "https" || a.Type == "tcp")
}

// Sync reconciles the probe loops of an upstream (its id, active settings
// and host_header) with the addresses it has now. Only addresses with a
// weight above 0 should be given: Kong registers only those. The probes
// keep addrs, which the caller must not change afterwards.
func (c *Checker) Sync(id string, cfg Active, hostHeader *string, addrs []Probe) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.probes[id]
	if cur != nil && (!reflect.DeepEqual(cur.config, cfg) || !reflect.DeepEqual(cur.hostHeader, hostHeader)) {
		c.stopLocked(id)
		cur = nil
	}
	if !activeEnabled(cfg) {
		c.stopLocked(id)
		return
	}
	if cur == nil {
		cur = &upstreamProbes{config: cfg, hostHeader: hostHeader, loops: map[string]context.CancelFunc{},
			slots: make(chan struct{}, max(1, cfg.Concurrency))}
		c.probes[id] = cur
	}
	want := make(map[string]*Probe, len(addrs))
	for i := range addrs {
		want[addrs[i].Key] = &addrs[i]
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
		go func(a *Probe, cur *upstreamProbes) {
			defer c.wg.Done()
			c.loop(ctx, cur, a)
		}(a, cur)
	}
}

// Stop ends the probe loops of an upstream.
func (c *Checker) Stop(upstreamID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(upstreamID)
}

func (c *Checker) stopLocked(upstreamID string) {
	if cur := c.probes[upstreamID]; cur != nil {
		for _, cancel := range cur.loops {
			cancel()
		}
		delete(c.probes, upstreamID)
	}
}

// Close ends every loop and waits for them.
func (c *Checker) Close() {
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
func (c *Checker) loop(ctx context.Context, up *upstreamProbes, a *Probe) {
	cfg, slots := up.config, up.slots
	limits := cfg.Limits()
	client := probeClient(cfg, a.Host)
	c.signals.Watching(a.Labels, a.State.Healthy())
	defer c.signals.Unwatched(a.Labels)
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
		report := c.probe(ctx, client, up, a)
		<-slots
		if ctx.Err() != nil {
			return
		}
		c.signals.Probed(a.Labels, report)
		if flipped, healthy := a.State.Observe(report, limits); flipped {
			c.signals.Changed(a.Labels, healthy, "active check")
		}
	}
}

// probe runs one check and classifies it as Kong does: connect timeout →
// timeout, other connect or TLS error → tcp failure, a status in
// healthy.http_statuses → success, in unhealthy.http_statuses (or
// unreadable) → http failure, any other status → success for tcp probes
// and ignored (reported as neither) for http ones.
func (c *Checker) probe(ctx context.Context, client *http.Client, up *upstreamProbes, a *Probe) Report {
	cfg := up.config
	timeout := time.Duration(cfg.Timeout * float64(time.Second))
	if cfg.Type == "tcp" {
		conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", a.Dial)
		if err != nil {
			return classifyDialError(err)
		}
		conn.Close()
		return Success
	}
	scheme := "http"
	if cfg.Type == "https" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+a.Dial+cfg.HTTPPath, nil)
	if err != nil {
		return HTTPFailure
	}
	for name, values := range cfg.Headers {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	req.Host = probeHost(up, a)
	resp, err := client.Do(req)
	if err != nil {
		return classifyDialError(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return classifyStatus(resp.StatusCode, cfg.Healthy.HTTPStatuses, cfg.Unhealthy.HTTPStatuses)
}

// probeHost is the Host header of probes: the upstream's host_header, else
// the target's hostname or IP, or the SRV name with use_srv_name (with the
// port unless it is the scheme's default).
func probeHost(up *upstreamProbes, a *Probe) string {
	if up.hostHeader != nil {
		return *up.hostHeader
	}
	host := a.Host
	if (up.config.Type == "https" && a.Port == 443) || (up.config.Type == "http" && a.Port == 80) {
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
func probeClient(cfg Active, host string) *http.Client {
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
