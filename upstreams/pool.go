package upstreams

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Pool is the immutable, ready-to-balance view of one upstream that the
// proxy reads on every request without taking a lock. A change to the
// upstream or its targets builds a new Pool off the request path and
// publishes it atomically; per-address state (in-flight counts, health)
// lives in balance.State values that survive the swap.
type Pool struct {
	// Upstream is the entity the pool was built from. Read only.
	Upstream *Upstream
	// Addresses are the balanced addresses of the upstream's targets, in
	// target creation order, weight-0 targets included.
	Addresses []Address
	// Version is the registry version that published this pool.
	Version uint64
	// Hosts is the DNS state of the hostnames among the targets, by
	// hostname, as the pool was built with; nil when hostnames are not
	// resolved by the registry.
	Hosts map[string]*HostResolution

	balancer balance.Balancer
	// endpoints are the balanced part of Addresses, index for index.
	endpoints []*balance.Endpoint
	// passive are the passive health-check limits; zero when off.
	passive health.Limits
	// signals report health changes made by passive checks.
	signals *health.Signals
}

// Address is one balanced host:port of a target: what balancing reads of
// it (Dial, Weight, State), and where it came from.
type Address struct {
	balance.Endpoint
	// Target is the entity the address came from. Read only.
	Target *Target
	// Host is the IP or hostname, without brackets.
	Host string
	// Port is the TCP port.
	Port int
	// Name is the hostname the address was resolved from ("" for an IP
	// target): the SRV entry's target name for SRV answers, else the
	// target's hostname.
	Name string
	// SRV reports whether the address came from an SRV answer.
	SRV bool
}

// newPool builds a pool for u and its targets (in creation order). A
// target whose hostname is in resolved contributes one address per
// resolved address; without an entry (no resolver), a hostname target is
// one address dialled by name. The addresses keep the states of prev's
// (the pool the new one replaces under u's name, nil if none) with the
// same keys.
func newPool(u *Upstream, targets []*Target, resolved map[string]*HostResolution, states *addressStates, prev *Pool, version uint64) *Pool {
	p := &Pool{Upstream: u, Version: version, Hosts: resolved, passive: u.Healthchecks.PassiveLimits()}
	// One address per target unless a name resolves to several: sized so,
	// the pool keeps no spare capacity of append's doubling (live for as
	// long as the pool, in every pool of the registry). The addresses are
	// one array, not one allocation each (memory per target).
	p.Addresses = make([]Address, 0, len(targets))
	found := states.newStateFinder(u.Name, prev)
	add := func(a Address) {
		if a.Dial == "" {
			a.Dial = net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
		}
		a.State = found.get(a.stateKey())
		p.Addresses = append(p.Addresses, a)
	}
	for _, t := range targets {
		host, port, ok := schema.ParseTarget(t.Target)
		if !ok {
			continue
		}
		hr, isName := resolved[host]
		if !isName {
			dial, host := sharedDial(t.Target, host, port)
			add(Address{Endpoint: balance.Endpoint{Dial: dial, Weight: t.Weight}, Target: t, Host: host, Port: port})
			continue
		}
		for _, r := range hr.Addresses {
			add(resolvedAddress(t, host, port, r))
		}
	}
	// The endpoints point into the addresses' array, now that it no
	// longer grows.
	p.endpoints = make([]*balance.Endpoint, len(p.Addresses))
	for i := range p.Addresses {
		p.endpoints[i] = &p.Addresses[i].Endpoint
	}
	p.balancer = balance.New(balanceConfig(u), p.endpoints)
	return p
}

// resolvedAddress is the address of target t (hostname host, port port)
// for one resolved address. An SRV entry's port replaces the target's
// unless it is 0, and its weight replaces the target's (Kong's rule),
// except that a target of weight 0 stays disabled: all its addresses get 0.
func resolvedAddress(t *Target, host string, port int, r targets.Resolved) Address {
	a := Address{Endpoint: balance.Endpoint{Weight: t.Weight}, Target: t, Host: r.IP, Port: port, Name: host}
	if r.Port > 0 {
		a.Port = r.Port
	}
	if r.Weight > 0 && t.Weight > 0 {
		a.Weight = r.Weight
	}
	if r.Name != "" {
		a.Name, a.SRV = r.Name, true
	}
	return a
}

// hostnames returns the distinct hostnames among the targets, the ones the
// registry resolves.
func hostnames(list []*Target) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range list {
		host, _, ok := schema.ParseTarget(t.Target)
		if !ok || seen[host] {
			continue
		}
		seen[host] = true
		if _, err := netip.ParseAddr(host); err != nil {
			out = append(out, host)
		}
	}
	return out
}

// Pick chooses an available address for a request, skipping the addresses
// already tried by the request's earlier attempts when an untried one is
// left. It returns nil when no address is available.
func (p *Pool) Pick(req *balance.Request) *Address {
	i := balance.Pick(p.balancer, p.endpoints, req)
	if i < 0 {
		return nil
	}
	return &p.Addresses[i]
}

// Healthy applies Kong's threshold rule: with health checks on, the
// upstream is healthy only while the available share of its weight is
// strictly above healthchecks.threshold percent. It costs O(addresses)
// only for upstreams with a threshold above 0.
func (p *Pool) Healthy() bool {
	th := p.Upstream.Healthchecks.Threshold
	if th <= 0 || !p.Upstream.Healthchecks.Enabled() {
		return true
	}
	available, total := p.AvailableWeight()
	return total > 0 && float64(available)/float64(total)*100 > th
}

// AvailableWeight returns the total weight of addresses that can take traffic.
func (p *Pool) AvailableWeight() (available, total int) {
	for _, a := range p.Addresses {
		total += a.Weight
		if a.Available() {
			available += a.Weight
		}
	}
	return available, total
}

// HostName is the name Kong would send as Host (and SNI) to address a:
// the upstream's host_header when set, else the SRV entry's target name
// when use_srv_name is on and a came from an SRV answer, else the target's
// hostname (its IP for an IP target).
func (p *Pool) HostName(a *Address) string {
	if p.Upstream.HostHeader != nil {
		return *p.Upstream.HostHeader
	}
	return hostName(p.Upstream, a)
}

// hostName is the name of address a as its upstream sees it: the SRV
// entry's target name when use_srv_name is on and a came from an SRV
// answer, else the target's hostname (its IP for an IP target).
//
// It runs on every proxied request, so it reads what newPool worked out: a
// resolved address's Name is its target's hostname (unless it came from
// SRV), an unresolved or IP target's Host is the target's host. Only an SRV
// address without use_srv_name parses the target again.
func hostName(u *Upstream, a *Address) string {
	switch {
	case a.SRV && u.UseSRVName:
		return a.Name
	case a.SRV:
		if host, _, ok := schema.ParseTarget(a.Target.Target); ok {
			return host
		}
		return a.Host
	case a.Name != "":
		return a.Name
	default:
		return a.Host
	}
}

// SRVHost returns the Host header use_srv_name asks for on requests to a
// ("name", or "name:port" unless the port is 80 or 443), and false when
// the upstream does not ask for one (use_srv_name off, host_header set, or
// a did not come from an SRV answer).
func (p *Pool) SRVHost(a *Address) (string, bool) {
	if !p.Upstream.UseSRVName || !a.SRV || p.Upstream.HostHeader != nil {
		return "", false
	}
	if a.Port == 80 || a.Port == 443 {
		return a.Name, true
	}
	return net.JoinHostPort(a.Name, strconv.Itoa(a.Port)), true
}

// sharedDial returns the dial address of host:port and the host, reusing
// the bytes of the normalised target string when they spell the same, so
// that an address costs no strings of its own (memory per target).
func sharedDial(target, host string, port int) (dial, sharedHost string) {
	dial = net.JoinHostPort(host, strconv.Itoa(port))
	if dial != target {
		return dial, host
	}
	dial = target
	if i := strings.Index(dial, host); i >= 0 {
		host = dial[i : i+len(host)]
	}
	return dial, host
}
