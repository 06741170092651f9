package balance

import (
	"net/http"

	"github.com/cespare/xxhash/v2"
)

// Request carries what a balancing decision needs to know about one
// proxied request: the request itself (hash inputs, cookies), the
// addresses its earlier attempts already used, so a retry reaches a
// different target, and a cookie the algorithm wants set on the response.
type Request struct {
	// Request is the client request; it may be nil in benchmarks.
	Request *http.Request
	// HashKey caches the request's balancing key (the consistent-hashing
	// input, or the sticky-session cookie value), computed on the first
	// attempt and reused by retries, as Kong does.
	HashKey string
	keySet  bool
	keyHash uint64
	tried   []string
	cookie  PendingCookie
}

// PendingCookie is a cookie an algorithm wants set on the response
// (hash_on=cookie without the cookie, or a new sticky session).
type PendingCookie struct {
	Name, Value, Path string
}

// Header is the Set-Cookie header value, in Kong's format.
func (c PendingCookie) Header() string {
	return c.Name + "=" + c.Value + "; Path=" + c.Path + "; SameSite=Lax; HttpOnly"
}

// Tried records that an attempt used dial.
func (r *Request) Tried(dial string) { r.tried = append(r.tried, dial) }

// TakePendingCookie returns the cookie the last pick asked for and
// forgets it; ok is false when there is none.
func (r *Request) TakePendingCookie() (c PendingCookie, ok bool) {
	c, r.cookie = r.cookie, PendingCookie{}
	return c, c.Name != ""
}

// setKey caches the request's balancing key and its hash.
func (r *Request) setKey(key string) {
	r.HashKey, r.keyHash, r.keySet = key, xxhash.Sum64String(key), true
}

// setCookie asks for a cookie on the response.
func (r *Request) setCookie(name, value, path string) {
	r.cookie = PendingCookie{Name: name, Value: value, Path: path}
}

func (r *Request) wasTried(dial string) bool {
	for _, d := range r.tried {
		if d == dial {
			return true
		}
	}
	return false
}
