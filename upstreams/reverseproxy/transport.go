package reverseproxy

import (
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	caddyrp "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(Transport{})
}

// Transport is Caddy's HTTP transport that also reports the outcome of
// every round trip to a registry upstream (its status, or the connection
// error or timeout, and its duration) to the upstream's passive health
// checks and to the address's traffic counters (the Admin API's
// /upstreams/{u}/stats). It takes every
// option of Caddy's `http` transport, unchanged:
//
//	reverse_proxy {
//		dynamic registry shop
//		transport registry {
//			dial_timeout 2s
//		}
//	}
//
// Round trips to addresses that did not come from a registry upstream are
// passed through untouched.
type Transport struct {
	caddyrp.HTTPTransport
}

// CaddyModule returns the Caddy module information.
func (Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.registry",
		New: func() caddy.Module { return new(Transport) },
	}
}

// RoundTrip proxies the request with Caddy's HTTP transport and reports
// the outcome to the registry upstream the address was picked from. For an
// upstream with use_srv_name on, a request to an address from an SRV
// answer carries the SRV entry's target name as Host, as in Kong.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, ok := caddyhttp.GetVar(req.Context(), attemptVar).(*attempt)
	if !ok {
		return t.HTTPTransport.RoundTrip(req)
	}
	if host, ok := a.srvHost(req); ok {
		req = req.WithContext(req.Context()) // a shallow copy: the caller's request is not modified
		req.Host = host
	}
	start := time.Now()
	res, err := t.HTTPTransport.RoundTrip(req)
	a.reportRoundTrip(req, res, err, time.Since(start))
	return res, err
}

// Interface guards
var (
	_ caddy.Provisioner     = (*Transport)(nil)
	_ caddy.CleanerUpper    = (*Transport)(nil)
	_ http.RoundTripper     = (*Transport)(nil)
	_ caddyrp.TLSTransport  = (*Transport)(nil)
	_ caddyrp.H2CTransport  = (*Transport)(nil)
	_ caddyfile.Unmarshaler = (*Transport)(nil)
)
