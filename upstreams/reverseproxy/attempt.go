package reverseproxy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// attemptVar is the request variable holding the request's balancing state
// across reverse_proxy attempts (retries).
const attemptVar = "upstreams.attempt"

// attempt is the balancing state of one request for one upstream.
type attempt struct {
	upstream string
	pick     upstreams.PickRequest

	// Attempts whose end the algorithm needs to see (least-connections,
	// latency). They end together when the request does: the request
	// context is cancelled once the handler chain has returned.
	mu       sync.Mutex
	open     []openAttempt
	watching bool
	finished bool
}

// openAttempt is an attempt counted in flight.
type openAttempt struct {
	pool    *upstreams.Pool
	address *upstreams.Address
	started time.Time
}

// attemptFor returns the request's balancing state for the upstream,
// creating it on the first attempt.
func attemptFor(r *http.Request, upstream string) *attempt {
	if a, ok := caddyhttp.GetVar(r.Context(), attemptVar).(*attempt); ok && a.upstream == upstream {
		return a
	}
	a := &attempt{upstream: upstream, pick: upstreams.PickRequest{Request: r}}
	caddyhttp.SetVar(r.Context(), attemptVar, a)
	return a
}

// begin counts an attempt to addr in flight until the request ends.
func (a *attempt) begin(ctx context.Context, pool *upstreams.Pool, addr *upstreams.Address) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.finished { // the client went away while retrying
		return
	}
	if !a.watching {
		a.watching = true
		context.AfterFunc(ctx, a.finish)
	}
	pool.Begin(addr)
	a.open = append(a.open, openAttempt{pool: pool, address: addr, started: time.Now()})
}

// finish ends the request's open attempts; the last one was answered (or
// abandoned by the client) and gives the address's response time.
func (a *attempt) finish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished = true
	for i, o := range a.open {
		o.pool.Done(upstreams.Observation{Address: o.address, Duration: time.Since(o.started), Final: i == len(a.open)-1})
	}
	a.open = nil
}

// pendingCookie returns the Set-Cookie value the request's last pick asked
// for, if any, and forgets it.
func pendingCookie(r *http.Request) (upstreams.PendingCookie, bool) {
	a, ok := caddyhttp.GetVar(r.Context(), attemptVar).(*attempt)
	if !ok {
		return upstreams.PendingCookie{}, false
	}
	return a.pick.TakePendingCookie()
}
