package kongproxy

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/routing"
)

// proxiedVar is the request variable holding the request's
// *proxiedRequest, where the service's transport finds it.
const proxiedVar = "kong_proxy.request"

// proxiedRequest is kong_proxy's state of one request, in one allocation:
// the route it matched, its request id, and what the service's transport
// sets on each attempt (the path, Kong's headers, the Host). The client's
// request is left as it came: the transport applies these to
// reverse_proxy's own copy of it, so kong_proxy copies nothing.
type proxiedRequest struct {
	match     routing.Match
	service   *upstreams.Service
	requestID string

	// pool is the registry upstream the service's host names, looked up
	// once per request (retries pick from it again); nil: the request
	// goes to dial, the service's host:port.
	pool *upstreams.Pool
	dial string

	// path is the upstream path, percent-encoded.
	path string
	// preservedHost is the client's Host with preserve_host, else "".
	preservedHost string
	// trusted: the client is a trusted proxy, whose X-Forwarded-* are kept.
	trusted bool
	// values are the upstream headers' values, by upstreamHeaders index,
	// then the response's request id; a header's slice points into the
	// array, so setting it allocates nothing.
	values [len(upstreamHeaders) + 1]string
}

// upstreamHeaders are the headers Kong adds to the upstream request
// beyond reverse_proxy's X-Forwarded-For, -Proto and -Host, in the order
// of proxiedRequest.values.
var upstreamHeaders = [...]string{"X-Forwarded-Port", "X-Forwarded-Path", "X-Forwarded-Prefix", "X-Real-IP", requestIDHeader}

// Indexes of upstreamHeaders.
const (
	headerPort = iota
	headerPath
	headerPrefix
	headerRealIP
	headerRequestID
	responseRequestID // in values only
)

// newProxiedRequest starts the state of a request with a fresh request id.
func newProxiedRequest() *proxiedRequest {
	p := &proxiedRequest{requestID: processRequestIDs.id()}
	p.values[headerRequestID], p.values[responseRequestID] = p.requestID, p.requestID
	return p
}

// responseIDValue is the X-Kong-Request-Id value of the response.
func (p *proxiedRequest) responseIDValue() []string {
	return p.values[responseRequestID : responseRequestID+1 : responseRequestID+1]
}

// plan works out the upstream side of a matched request: the path Kong
// computes (strip_path, path_handling, the service's path; the query is
// kept), the Host choice and the values of Kong's headers: X-Forwarded-Port,
// X-Forwarded-Path, X-Forwarded-Prefix (the part strip_path removed),
// X-Real-IP and the request id.
func (p *proxiedRequest) plan(r *http.Request, req *routing.Request, port string) {
	m := &p.match
	servicePath := ""
	if p.service.Path != nil {
		servicePath = *p.service.Path
	}
	p.path = routing.UpstreamPath(m, req.Path, servicePath)
	if m.Route.PreserveHost {
		p.preservedHost = r.Host
	}
	p.trusted = trustedProxy(r)
	p.values[headerPort] = port
	p.values[headerPath] = req.Path
	if m.Route.StripPath && m.MatchedPath != "" && m.MatchedPath != "/" {
		p.values[headerPrefix] = m.MatchedPath
	}
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		p.values[headerRealIP] = ip
	}
}

// apply sets the path and Kong's headers on an attempt's request (the
// copy reverse_proxy made; retries reuse it, and applying again sets the
// same). As in Kong, values sent by a trusted proxy are kept, others are
// replaced; an untrusted X-Forwarded-Prefix is removed when nothing was
// stripped.
func (p *proxiedRequest) apply(req *http.Request) {
	setPath(req.URL, p.path)
	h := req.Header
	for i, name := range upstreamHeaders {
		v := p.values[i]
		if v == "" {
			if i == headerPrefix && !p.trusted {
				delete(h, name)
			}
			continue
		}
		if p.trusted && i != headerRequestID && len(h[name]) > 0 && h[name][0] != "" {
			continue
		}
		h[name] = p.values[i : i+1 : i+1]
	}
}

// placeholder answers the placeholders of a request kong_proxy handled,
// when something reads them (logs, later handlers, hash_on uri_capture):
// {kong.request_id}, and for a matched request {kong.route.id},
// {kong.route.name}, {kong.service.id}, {kong.service.name} and the regex
// path's captures as {kong.uri_captures.<n>} and
// {kong.uri_captures.<name>}, also under Caddy's regexp names
// {http.regexp.<n>} and {http.regexp.<name>}.
func (p *proxiedRequest) placeholder(key string) (any, bool) {
	if name, ok := strings.CutPrefix(key, "http.regexp."); ok {
		return p.capture(name)
	}
	key, ok := strings.CutPrefix(key, "kong.")
	if !ok {
		return nil, false
	}
	route := p.match.Route
	switch {
	case key == "request_id":
		return p.requestID, true
	case route == nil:
		return nil, false
	case key == "route.id":
		return route.ID, true
	case key == "route.name":
		return route.Name, true
	case key == "service.id" && p.service != nil:
		return p.service.ID, true
	case key == "service.name" && p.service != nil:
		return p.service.NameOrEmpty(), true
	}
	if name, ok := strings.CutPrefix(key, "uri_captures."); ok {
		return p.capture(name)
	}
	return nil, false
}

// capture is a regex path's group by number or name.
func (p *proxiedRequest) capture(name string) (any, bool) {
	m := &p.match
	if i, err := strconv.Atoi(name); err == nil {
		if i >= 0 && i < len(m.Captures) {
			return m.Captures[i], true
		}
		return nil, false
	}
	for i, n := range m.CaptureNames {
		if n == name && n != "" && i < len(m.Captures) {
			return m.Captures[i], true
		}
	}
	return nil, false
}
