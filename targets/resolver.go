package targets

import (
	"context"
	"time"
)

// Record types a Resolution may come from, as Kong's health endpoint names
// them in data.dns.
const (
	RecordA    = "A"
	RecordAAAA = "AAAA"
	RecordSRV  = "SRV"
)

// Resolved is one address a hostname resolved to.
type Resolved struct {
	// IP is the address to dial, without brackets.
	IP string
	// Port is the port an SRV record gave; 0 means the target's own port
	// (A and AAAA answers, SRV entries with port 0).
	Port int
	// Weight is the weight an SRV record gave (an SRV weight of 0 is
	// reported as 1, as Kong does); 0 means the target's own weight (A and
	// AAAA answers).
	Weight int
	// Name is the SRV entry's target name ("" for A and AAAA answers), used
	// as Host header when the upstream sets use_srv_name.
	Name string
}

// Resolution is the answer of one successful lookup.
type Resolution struct {
	// Type is the record type that answered: RecordA, RecordAAAA or
	// RecordSRV.
	Type string
	// Addresses are the resolved addresses in a stable order (sorted), at
	// most the resolver's cap.
	Addresses []Resolved
	// TTL is how long the answer may be used: the smallest TTL of the
	// records that made it, already raised to the resolver's minimum (never
	// 0, so a watcher never spins).
	TTL time.Duration
}

// Resolver looks hostnames up. The registry calls it from background
// watchers only, never on the request path: one watcher per distinct
// hostname of an upstream's targets, which calls Resolve again when the
// previous answer's TTL runs out, or RetryInterval after a failure.
//
// Resolve returns an error for a failed lookup and for a name that has no
// usable record (NXDOMAIN, no A/AAAA/SRV data): the registry then keeps the
// addresses of the last successful lookup.
type Resolver interface {
	Resolve(ctx context.Context, host string) (Resolution, error)
	// RetryInterval is the wait before looking a name up again after a
	// failed lookup.
	RetryInterval() time.Duration
	// FirstLookupTimeout bounds how long a registry write that adds a
	// hostname waits for its first lookup, so the first request after the
	// write finds its addresses.
	FirstLookupTimeout() time.Duration
}
