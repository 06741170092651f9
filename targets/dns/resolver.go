// Package dns is the upstreams.resolvers.dns module: it resolves hostname
// targets with A, AAAA and SRV queries sent to the nameservers of
// /etc/resolv.conf or configured ones, and reports each answer's TTL so the
// registry re-resolves when it expires.
package dns

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	miekgdns "github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

func init() {
	caddy.RegisterModule(Resolver{})
}

// Defaults of the resolver's settings.
const (
	DefaultResolvConf   = "/etc/resolv.conf"
	DefaultTimeout      = 2 * time.Second
	DefaultMinTTL       = time.Second
	DefaultErrorRetry   = time.Second
	DefaultMaxAddresses = 64
)

// Resolver resolves hostname targets, as Kong's DNS client does: names of
// the form _service._proto.name are SRV queries (each entry gives an
// address, a port and a weight), other names are A queries, then AAAA when
// A has no record. Answers carry their TTL: the registry looks the name up
// again when it runs out (never on the request path), and keeps the last
// good addresses when a lookup fails.
type Resolver struct {
	// Addresses are the nameservers to ask, "host[:port]" (port 53 by
	// default), tried in order. Default: the nameservers of ResolvConf.
	Addresses []string `json:"addresses,omitempty"`
	// ResolvConf is the resolv.conf file whose nameservers (when Addresses
	// is empty), search domains and ndots are used. Default
	// /etc/resolv.conf; when the default file is missing, 127.0.0.1:53 is
	// asked and names are taken as absolute. When Addresses is set, the
	// file is read only if ResolvConf is set explicitly.
	ResolvConf string `json:"resolv_conf,omitempty"`
	// HostsFile is consulted before DNS for A and AAAA names, as Kong's
	// dns_hostsfile; it is read on every config load. Default /etc/hosts;
	// "off" disables it.
	HostsFile string `json:"hosts_file,omitempty"`
	// Timeout bounds one query to one nameserver, and how long a write that
	// adds a hostname target waits for its first lookup. Default 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// MinTTL is the shortest time an answer is used before it is looked up
	// again; records with a smaller TTL (TTL 0 included) use it. Default 1s.
	MinTTL caddy.Duration `json:"min_ttl,omitempty"`
	// MaxTTL, when set, caps the time an answer is used.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`
	// ErrorRetry is the wait before looking a name up again after a failed
	// lookup (Kong's dns_error_ttl). Default 1s.
	ErrorRetry caddy.Duration `json:"error_retry,omitempty"`
	// MaxAddresses caps the addresses one target resolves to (the first
	// ones in address order are kept). Default 64.
	MaxAddresses int `json:"max_addresses,omitempty"`

	servers []string
	config  *miekgdns.ClientConfig
	hosts   hostsTable
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Resolver) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "upstreams.resolvers.dns",
		New: func() caddy.Module { return new(Resolver) },
	}
}

// Provision reads resolv.conf and applies the defaults.
func (r *Resolver) Provision(ctx caddy.Context) error {
	r.logger = ctx.Logger()
	if r.Timeout <= 0 {
		r.Timeout = caddy.Duration(DefaultTimeout)
	}
	if r.MinTTL <= 0 {
		r.MinTTL = caddy.Duration(DefaultMinTTL)
	}
	if r.ErrorRetry <= 0 {
		r.ErrorRetry = caddy.Duration(DefaultErrorRetry)
	}
	if r.MaxAddresses <= 0 {
		r.MaxAddresses = DefaultMaxAddresses
	}
	r.hosts = hostsTable{}
	if r.HostsFile != "off" {
		path := cmp.Or(r.HostsFile, DefaultHostsFile)
		hosts, err := readHostsFile(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		r.hosts = hosts
	}
	r.config = &miekgdns.ClientConfig{Ndots: 1}
	if len(r.Addresses) == 0 || r.ResolvConf != "" {
		path := r.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := miekgdns.ClientConfigFromFile(path)
		switch {
		case err == nil:
			r.config = cc
		case r.ResolvConf == "" && errors.Is(err, os.ErrNotExist):
			r.logger.Warn("no resolv.conf: asking 127.0.0.1:53", zap.String("path", path))
			r.config.Servers = []string{"127.0.0.1"}
			r.config.Port = "53"
		default:
			return fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if len(r.Addresses) > 0 {
		r.servers = r.servers[:0]
		for _, a := range r.Addresses {
			s, err := serverAddress(a, "53")
			if err != nil {
				return err
			}
			r.servers = append(r.servers, s)
		}
	} else {
		for _, s := range r.config.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, r.config.Port))
		}
	}
	return nil
}

// Validate checks the settings.
func (r *Resolver) Validate() error {
	if len(r.servers) == 0 {
		return fmt.Errorf("dns resolver: no nameserver: none in addresses nor in %s", cmp.Or(r.ResolvConf, DefaultResolvConf))
	}
	if r.MaxTTL > 0 && r.MaxTTL < r.MinTTL {
		return fmt.Errorf("dns resolver: max_ttl %s is below min_ttl %s", time.Duration(r.MaxTTL), time.Duration(r.MinTTL))
	}
	return nil
}

// serverAddress normalises "host[:port]" to "host:port".
func serverAddress(a, defaultPort string) (string, error) {
	if host, port, err := net.SplitHostPort(a); err == nil {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("dns resolver: invalid port in %q", a)
		}
		return net.JoinHostPort(host, port), nil
	}
	if a == "" {
		return "", fmt.Errorf("dns resolver: empty nameserver address")
	}
	return net.JoinHostPort(a, defaultPort), nil
}

// RetryInterval implements targets.Resolver.
func (r *Resolver) RetryInterval() time.Duration { return time.Duration(r.ErrorRetry) }

// FirstLookupTimeout implements targets.Resolver.
func (r *Resolver) FirstLookupTimeout() time.Duration { return time.Duration(r.Timeout) }

// clampTTL raises a TTL to MinTTL and caps it at MaxTTL.
func (r *Resolver) clampTTL(ttl time.Duration) time.Duration {
	ttl = max(ttl, time.Duration(r.MinTTL))
	if r.MaxTTL > 0 {
		ttl = min(ttl, time.Duration(r.MaxTTL))
	}
	return ttl
}

// UnmarshalCaddyfile sets up the resolver from Caddyfile tokens:
//
//	dns [<nameserver...>] {
//		addresses <nameserver...>
//		resolv_conf <path>
//		hosts_file <path>|off
//		timeout <duration>
//		min_ttl <duration>
//		max_ttl <duration>
//		error_retry <duration>
//		max_addresses <n>
//	}
func (r *Resolver) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	r.Addresses = append(r.Addresses, d.RemainingArgs()...)
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "addresses":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			r.Addresses = append(r.Addresses, args...)
		case "resolv_conf":
			if !d.AllArgs(&r.ResolvConf) {
				return d.ArgErr()
			}
		case "hosts_file":
			if !d.AllArgs(&r.HostsFile) {
				return d.ArgErr()
			}
		case "timeout", "min_ttl", "max_ttl", "error_retry":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			v, err := caddy.ParseDuration(s)
			if err != nil {
				return d.Errf("%s: %v", opt, err)
			}
			*map[string]*caddy.Duration{"timeout": &r.Timeout, "min_ttl": &r.MinTTL,
				"max_ttl": &r.MaxTTL, "error_retry": &r.ErrorRetry}[opt] = caddy.Duration(v)
		case "max_addresses":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return d.Errf("max_addresses: expected a positive integer, got %q", s)
			}
			r.MaxAddresses = n
		default:
			return d.Errf("unrecognized dns resolver option '%s'", opt)
		}
	}
	return nil
}

// Interface guards
var (
	_ targets.Resolver      = (*Resolver)(nil)
	_ caddy.Provisioner     = (*Resolver)(nil)
	_ caddy.Validator       = (*Resolver)(nil)
	_ caddyfile.Unmarshaler = (*Resolver)(nil)
)
