package upstreams

import "net/http"

// PickRequest carries what a balancing decision needs to know about one
// proxied request: the request itself (hash inputs) and the addresses its
// earlier attempts already used, so a retry reaches a different target.
type PickRequest struct {
	// Request is the client request; it may be nil in benchmarks.
	Request *http.Request
	// HashKey caches the consistent-hashing input, computed once per
	// request and reused by retries.
	HashKey    string
	hashKeySet bool
	tried      []string
}

// Tried records that an attempt used dial.
func (r *PickRequest) Tried(dial string) { r.tried = append(r.tried, dial) }

func (r *PickRequest) triedCount() int { return len(r.tried) }

func (r *PickRequest) wasTried(dial string) bool {
	for _, d := range r.tried {
		if d == dial {
			return true
		}
	}
	return false
}
