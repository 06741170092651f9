package reverseproxy

import (
	"net/http"

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
