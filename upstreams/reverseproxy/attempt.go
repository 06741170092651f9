package reverseproxy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/balance"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/health"
)

// attemptVar is the request variable holding the request's balancing state
// across reverse_proxy attempts (retries).
const attemptVar = "upstreams.attempt"

// attempt is the balancing state of one request for one upstream.
type attempt struct {
	upstream string
	pick     balance.Request

	// The pool and address of the latest attempt, for passive checks.
	lastPool    *upstreams.Pool
	lastAddress *upstreams.Address

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
	a := &attempt{upstream: upstream, pick: balance.Request{Request: r}}
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

// picked records the address chosen for the request's current attempt.
func (a *attempt) picked(pool *upstreams.Pool, addr *upstreams.Address) {
	a.lastPool, a.lastAddress = pool, addr
}

// srvHost returns the Host header use_srv_name asks for on the current
// attempt's round trip, if any.
func (a *attempt) srvHost(req *http.Request) (string, bool) {
	pool, addr := a.lastPool, a.lastAddress
	if pool == nil || !pool.Upstream.UseSRVName {
		return "", false
	}
	if di, ok := caddyrp.GetDialInfo(req.Context()); !ok || di.Address != addr.Dial {
		return "", false
	}
	return pool.SRVHost(addr)
}

// reportRoundTrip hands the outcome of the current attempt's round trip,
// which took d, to the address's traffic counters (the Admin API's live
// stats) and to its pool's passive health checks. Round trips that the
// client abandoned say nothing about the address and are not reported, nor
// are round trips to another address than the one picked (another
// reverse_proxy of the same request, e.g. forward_auth).
func (a *attempt) reportRoundTrip(req *http.Request, res *http.Response, err error, d time.Duration) {
	pool, addr := a.lastPool, a.lastAddress
	if pool == nil {
		return
	}
	if di, ok := caddyrp.GetDialInfo(req.Context()); !ok || di.Address != addr.Dial {
		return
	}
	if err != nil && req.Context().Err() != nil {
		return
	}
	rt := health.RoundTrip{Err: err}
	if res != nil {
		rt.Status = res.StatusCode
	}
	addr.State.RecordTraffic(rt, d)
	pool.ReportRoundTrip(addr, rt)
}

// pendingCookie returns the Set-Cookie value the request's last pick asked
// for, if any, and forgets it.
func pendingCookie(r *http.Request) (balance.PendingCookie, bool) {
	a, ok := caddyhttp.GetVar(r.Context(), attemptVar).(*attempt)
	if !ok {
		return balance.PendingCookie{}, false
	}
	return a.pick.TakePendingCookie()
}
