package dns

import (
	"bufio"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// DefaultHostsFile is the hosts file consulted before DNS.
const DefaultHostsFile = "/etc/hosts"

// hostsTTL is how long an answer from the hosts file is used; the file is
// read again on every config load.
const hostsTTL = time.Hour

// hostsTable maps lower-case names to their addresses in a hosts file,
// IPv4 and IPv6 apart.
type hostsTable map[string]*hostsEntry

type hostsEntry struct{ v4, v6 []string }

// readHostsFile parses a hosts file ("ip name [alias...]", # comments).
// A missing file is an empty table.
func readHostsFile(path string) (hostsTable, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return hostsTable{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	table := hostsTable{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || ip.Zone() != "" {
			continue
		}
		for _, name := range fields[1:] {
			name = strings.ToLower(strings.TrimSuffix(name, "."))
			e := table[name]
			if e == nil {
				e = &hostsEntry{}
				table[name] = e
			}
			if ip.Unmap().Is4() {
				e.v4 = append(e.v4, ip.Unmap().String())
			} else {
				e.v6 = append(e.v6, ip.String())
			}
		}
	}
	return table, sc.Err()
}

// lookup answers host from the table: its IPv4 addresses as an A answer,
// else its IPv6 ones as AAAA, as the DNS order does.
func (h hostsTable) lookup(host string) (targets.Resolution, bool) {
	e := h[strings.ToLower(strings.TrimSuffix(host, "."))]
	switch {
	case e == nil:
		return targets.Resolution{}, false
	case len(e.v4) > 0:
		return hostsResolution(targets.RecordA, e.v4), true
	case len(e.v6) > 0:
		return hostsResolution(targets.RecordAAAA, e.v6), true
	}
	return targets.Resolution{}, false
}

func hostsResolution(kind string, ips []string) targets.Resolution {
	res := targets.Resolution{Type: kind, TTL: hostsTTL}
	for _, ip := range ips {
		res.Addresses = append(res.Addresses, targets.Resolved{IP: ip})
	}
	return res
}
