// Package reverseproxy plugs the upstreams registry into Caddy's
// reverse_proxy handler:
//
//   - Source (http.reverse_proxy.upstreams.registry) is a dynamic upstream
//     source. On every attempt it asks the named upstream's balancer for one
//     address and returns it as a fresh *reverseproxy.Upstream, so the cost
//     per request does not depend on the size of the pool, and a retry is
//     given an address the request has not tried yet.
//   - Selector (http.reverse_proxy.selection_policies.registry) takes the
//     address the registry chose and completes the algorithms that must
//     write to the response (cookies for hash_on=cookie and sticky sessions).
//
// Caddyfile:
//
//	reverse_proxy {
//		dynamic registry <upstream-name>
//		lb_policy registry
//	}
package reverseproxy
