// Package balance chooses the address of an upstream that a request goes
// to: Kong's algorithms (round-robin, consistent-hashing,
// least-connections, latency, sticky-sessions), the hash inputs and
// cookies they read and set, and the per-address load they weigh. A
// balancer is built once per pool generation, off the request path; a
// pick takes no lock and allocates nothing.
package balance

// Algorithms (an upstream's algorithm field).
const (
	RoundRobin        = "round-robin"
	ConsistentHashing = "consistent-hashing"
	LeastConnections  = "least-connections"
	Latency           = "latency"
	StickySessions    = "sticky-sessions"
)

// Balancer chooses an endpoint index; it is built once per pool
// generation and must be safe for concurrent use without locks.
type Balancer interface {
	// Pick returns the index of the chosen usable endpoint, or -1.
	Pick(eps []*Endpoint, req *Request) int
}

// Input is one hash_on (or hash_fallback) setting: the method and its
// parameter.
type Input struct {
	On, Header, QueryArg, URICapture string
}

// Config is what the algorithms need of an upstream.
type Config struct {
	// UpstreamID keys the round-robin position across pool generations and
	// the sticky-session cookie values.
	UpstreamID string
	// Algorithm is one of the Algorithms; anything else is round-robin.
	Algorithm string
	// Slots is the consistent-hashing table size setting.
	Slots int
	// HashOn and HashFallback are the consistent-hashing inputs.
	HashOn, HashFallback Input
	// HashCookie and HashCookiePath name the hash_on=cookie cookie.
	HashCookie, HashCookiePath string
	// StickyCookie and StickyCookiePath name the sticky-session cookie
	// ("" for the defaults).
	StickyCookie, StickyCookiePath string
}

// New builds the balancer for an upstream's algorithm over its endpoints.
// Pools are rebuilt on every upstream change, so a new algorithm applies
// to the next request.
func New(c Config, eps []*Endpoint) Balancer {
	switch c.Algorithm {
	case ConsistentHashing:
		return newConsistentHashing(c, eps)
	case LeastConnections:
		return newLeastConnections(eps)
	case Latency:
		return newLatency(eps)
	case StickySessions:
		return newStickySessions(c, eps)
	default:
		return newRoundRobin(c.UpstreamID, eps)
	}
}

// Pick chooses a usable endpoint with b, skipping the endpoints already
// tried by the request's earlier attempts when an untried one is left;
// when every usable endpoint was tried, it starts over, as Kong does. It
// returns -1 when no endpoint is usable.
func Pick(b Balancer, eps []*Endpoint, req *Request) int {
	if len(eps) == 0 {
		return -1
	}
	i := b.Pick(eps, req)
	if i < 0 && req != nil && len(req.tried) > 0 {
		saved := req.tried
		req.tried = nil
		i = b.Pick(eps, req)
		req.tried = saved
	}
	return i
}

// requestTracker is implemented by balancers that need to know when
// requests start and end (least-connections, latency).
type requestTracker interface {
	tracksRequests() bool
}

// TracksRequests reports whether b needs State.Begin and State.End around
// each attempt. The proxy may skip both when it is false.
func TracksRequests(b Balancer) bool {
	t, ok := b.(requestTracker)
	return ok && t.tracksRequests()
}
