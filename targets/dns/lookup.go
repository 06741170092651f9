package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	miekgdns "github.com/miekg/dns"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// errNoRecord is a successful answer without a record of the asked type.
var errNoRecord = errors.New("no record")

// Resolve implements targets.Resolver: an SRV query for names of the form
// _service._proto.name, otherwise A, then AAAA when A has no record (the
// order of Kong's DNS client); names in the hosts file are answered from
// it. An SRV answer keeps only the entries with
// the lowest priority; each entry's target name is resolved from the
// answer's additional section, else by A then AAAA queries.
func (r *Resolver) Resolve(ctx context.Context, host string) (targets.Resolution, error) {
	if isSRVName(host) {
		return r.resolveSRV(ctx, host)
	}
	return r.resolveIP(ctx, host)
}

// isSRVName reports whether host looks like an SRV name (_http._tcp.svc).
func isSRVName(host string) bool {
	labels := miekgdns.SplitDomainName(host)
	return len(labels) >= 3 && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_")
}

// resolveIP resolves a name with an A query, then an AAAA query when the
// A query found no address.
func (r *Resolver) resolveIP(ctx context.Context, host string) (targets.Resolution, error) {
	if res, ok := r.hosts.lookup(host); ok {
		r.finish(&res)
		return res, nil
	}
	var errs []string
	for _, qtype := range []uint16{miekgdns.TypeA, miekgdns.TypeAAAA} {
		msg, err := r.query(ctx, host, qtype)
		if err != nil {
			errs = append(errs, miekgdns.TypeToString[qtype]+": "+err.Error())
			continue
		}
		var res targets.Resolution
		res.Type = miekgdns.TypeToString[qtype]
		for _, rr := range msg.Answer {
			if ip, ok := addressOf(rr); ok {
				res.Addresses = append(res.Addresses, targets.Resolved{IP: ip})
			}
		}
		res.TTL = r.clampTTL(minTTL(msg.Answer))
		r.finish(&res)
		return res, nil
	}
	return targets.Resolution{}, fmt.Errorf("resolving %s: %s", host, strings.Join(errs, "; "))
}

// resolveSRV resolves an SRV name and the target names of its entries.
func (r *Resolver) resolveSRV(ctx context.Context, host string) (targets.Resolution, error) {
	msg, err := r.query(ctx, host, miekgdns.TypeSRV)
	if err != nil {
		return targets.Resolution{}, fmt.Errorf("resolving %s: SRV: %w", host, err)
	}
	var entries []*miekgdns.SRV
	for _, rr := range msg.Answer {
		if srv, ok := rr.(*miekgdns.SRV); ok && srv.Target != "." {
			entries = append(entries, srv)
		}
	}
	if len(entries) == 0 {
		return targets.Resolution{}, fmt.Errorf("resolving %s: SRV: no usable entry", host)
	}
	lowest := slices.MinFunc(entries, func(a, b *miekgdns.SRV) int { return cmp.Compare(a.Priority, b.Priority) }).Priority
	res := targets.Resolution{Type: targets.RecordSRV}
	ttl := minTTL(msg.Answer)
	var errs []string
	for _, srv := range entries {
		if srv.Priority != lowest {
			continue
		}
		name := strings.TrimSuffix(srv.Target, ".")
		ips, ipTTL, err := r.entryAddresses(ctx, msg, srv.Target)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ttl = min(ttl, ipTTL)
		for _, ip := range ips {
			res.Addresses = append(res.Addresses, targets.Resolved{
				IP: ip, Port: int(srv.Port), Weight: max(1, int(srv.Weight)), Name: name})
		}
	}
	if len(res.Addresses) == 0 {
		return targets.Resolution{}, fmt.Errorf("resolving %s: SRV: no entry has an address: %s", host, strings.Join(errs, "; "))
	}
	res.TTL = r.clampTTL(ttl)
	r.finish(&res)
	return res, nil
}

// entryAddresses returns the IPs of an SRV entry's target name: from the
// additional section when the server sent them, else looked up.
func (r *Resolver) entryAddresses(ctx context.Context, msg *miekgdns.Msg, target string) ([]string, time.Duration, error) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(target, ".")); err == nil {
		return []string{ip.String()}, math.MaxInt64, nil
	}
	var ips []string
	var extra []miekgdns.RR
	for _, rr := range msg.Extra {
		if ip, ok := addressOf(rr); ok && strings.EqualFold(rr.Header().Name, target) {
			ips = append(ips, ip)
			extra = append(extra, rr)
		}
	}
	if len(ips) > 0 {
		return ips, minTTL(extra), nil
	}
	res, err := r.resolveIP(ctx, target)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range res.Addresses {
		ips = append(ips, a.IP)
	}
	return ips, res.TTL, nil
}

// finish sorts the addresses, drops duplicates and applies the cap.
func (r *Resolver) finish(res *targets.Resolution) {
	slices.SortFunc(res.Addresses, func(a, b targets.Resolved) int {
		ia, _ := netip.ParseAddr(a.IP)
		ib, _ := netip.ParseAddr(b.IP)
		return cmp.Or(ia.Compare(ib), cmp.Compare(a.Port, b.Port))
	})
	res.Addresses = slices.CompactFunc(res.Addresses, func(a, b targets.Resolved) bool {
		return a.IP == b.IP && a.Port == b.Port
	})
	if len(res.Addresses) > r.MaxAddresses {
		res.Addresses = res.Addresses[:r.MaxAddresses]
	}
}

// query asks the nameservers for name (with the search domains of
// resolv.conf) and returns the first answer holding a record of qtype.
// A nameserver that fails or answers an error other than NXDOMAIN is
// skipped for the next one; NXDOMAIN or no data moves to the next search
// name.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*miekgdns.Msg, error) {
	var lastErr error
	for _, fqdn := range r.config.NameList(name) {
	servers:
		for _, server := range r.servers {
			msg, err := r.exchange(ctx, fqdn, qtype, server)
			if err != nil {
				lastErr = fmt.Errorf("%s: %s", server, exchangeError(err))
				if ctx.Err() != nil {
					return nil, lastErr
				}
				continue
			}
			switch msg.Rcode {
			case miekgdns.RcodeSuccess:
				for _, rr := range msg.Answer {
					if rr.Header().Rrtype == qtype {
						return msg, nil
					}
				}
				lastErr = errNoRecord
				break servers
			case miekgdns.RcodeNameError:
				lastErr = errors.New("name error (NXDOMAIN)")
				break servers
			default:
				lastErr = fmt.Errorf("%s answered %s", server, miekgdns.RcodeToString[msg.Rcode])
			}
		}
	}
	return nil, lastErr
}

// exchange sends one query over UDP, and again over TCP when the answer
// was truncated.
func (r *Resolver) exchange(ctx context.Context, fqdn string, qtype uint16, server string) (*miekgdns.Msg, error) {
	q := new(miekgdns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.SetEdns0(4096, false)
	client := &miekgdns.Client{Net: "udp", Timeout: time.Duration(r.Timeout)}
	msg, _, err := client.ExchangeContext(ctx, q, server)
	if err == nil && msg.Truncated {
		client.Net = "tcp"
		msg, _, err = client.ExchangeContext(ctx, q, server)
	}
	return msg, err
}

// exchangeError describes a failed exchange without the ephemeral local
// address, so the same failure reads the same on every retry.
func exchangeError(err error) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &op):
		return op.Err.Error()
	}
	return err.Error()
}

// addressOf returns the IP of an A or AAAA record.
func addressOf(rr miekgdns.RR) (string, bool) {
	switch v := rr.(type) {
	case *miekgdns.A:
		return v.A.String(), true
	case *miekgdns.AAAA:
		return v.AAAA.String(), true
	}
	return "", false
}

// minTTL is the smallest TTL of the records, as a duration.
func minTTL(rrs []miekgdns.RR) time.Duration {
	ttl := time.Duration(math.MaxInt64)
	for _, rr := range rrs {
		ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
	}
	if ttl == math.MaxInt64 {
		return 0
	}
	return ttl
}
