package balance

import (
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// stickySessions pins a client to a target with a cookie naming it: a
// request whose cookie names a usable address goes there; any other
// request is balanced by smooth weighted round-robin and gets a cookie for
// the address chosen. The cookie value is a hash of the upstream id and the
// address, so it keeps working when targets are added or removed and does
// not reveal the backend's IP.
type stickySessions struct {
	fallback   *roundRobin
	ids        []string       // address index -> cookie value
	byID       map[uint64]int // parsed cookie value -> address index
	cookieName string
	cookiePath string
}

// DefaultStickyCookie is the cookie name used when sticky_sessions_cookie
// is not set.
const DefaultStickyCookie = "KONG_STICKY"

func newStickySessions(c Config, addrs []*Endpoint) *stickySessions {
	s := &stickySessions{
		fallback:   newRoundRobin(c.UpstreamID, addrs),
		ids:        make([]string, len(addrs)),
		byID:       make(map[uint64]int, len(addrs)),
		cookieName: c.StickyCookie,
		cookiePath: c.StickyCookiePath,
	}
	if s.cookieName == "" {
		s.cookieName = DefaultStickyCookie
	}
	if s.cookiePath == "" {
		s.cookiePath = "/"
	}
	for i, a := range addrs {
		id := stickyID(c.UpstreamID, a.Dial)
		s.ids[i] = strconv.FormatUint(id, 16)
		s.byID[id] = i
	}
	return s
}

// stickyID identifies an address of an upstream in a cookie.
func stickyID(upstreamID, dial string) uint64 {
	d := xxhash.New()
	d.WriteString(upstreamID)
	d.WriteString(" ")
	d.WriteString(dial)
	return d.Sum64()
}

// Pick honours the request's sticky cookie, else balances and sets one.
func (s *stickySessions) Pick(eps []*Endpoint, req *Request) int {
	if req != nil {
		if !req.keySet {
			v := ""
			if req.Request != nil {
				v, _ = requestCookie(req.Request, s.cookieName)
			}
			req.setKey(v)
		}
		if id, err := strconv.ParseUint(req.HashKey, 16, 64); err == nil {
			if i, ok := s.byID[id]; ok && usable(eps, i, req) {
				return i
			}
		}
	}
	i := s.fallback.Pick(eps, req)
	if i >= 0 && req != nil && s.ids[i] != req.HashKey {
		req.setCookie(s.cookieName, s.ids[i], s.cookiePath)
	}
	return i
}
