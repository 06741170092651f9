package kongproxy

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/routing"
)

// upstreamRequest returns the request to proxy: r with the path Kong
// computes (strip_path, path_handling, the service's path; the query is
// kept) and Kong's upstream headers. reverse_proxy itself adds
// X-Forwarded-For, -Proto and -Host.
func upstreamRequest(r *http.Request, req *routing.Request, m *routing.Match, svc *upstreams.Service, requestID string) *http.Request {
	out := r.Clone(r.Context())
	servicePath := ""
	if svc.Path != nil {
		servicePath = *svc.Path
	}
	setPath(out.URL, routing.UpstreamPath(m, req.Path, servicePath))
	setForwardedHeaders(out, r, req, m)
	out.Header.Set(requestIDHeader, requestID)
	return out
}

// setPath sets a URL's path from its percent-encoded form, so escapes the
// router kept (an encoded slash, %2F) reach the upstream as they came.
func setPath(u *url.URL, escaped string) {
	path, err := url.PathUnescape(escaped)
	if err != nil {
		u.Path, u.RawPath = escaped, ""
		return
	}
	u.Path, u.RawPath = path, escaped
}

// setForwardedHeaders sets the X-Forwarded-* headers Kong adds beyond
// reverse_proxy's: X-Forwarded-Port, X-Forwarded-Path, X-Forwarded-Prefix
// (the part strip_path removed) and X-Real-IP. As in Kong, values sent by
// a trusted proxy are kept, others are replaced.
func setForwardedHeaders(out, r *http.Request, req *routing.Request, m *routing.Match) {
	trusted := trustedProxy(r)
	set := func(name, value string) {
		if trusted && r.Header.Get(name) != "" {
			return
		}
		out.Header.Set(name, value)
	}
	if port := localPort(r); port != 0 {
		set("X-Forwarded-Port", strconv.Itoa(port))
	}
	set("X-Forwarded-Path", req.Path)
	if m.Route.StripPath && m.MatchedPath != "" && m.MatchedPath != "/" {
		set("X-Forwarded-Prefix", m.MatchedPath)
	} else if !trusted {
		out.Header.Del("X-Forwarded-Prefix")
	}
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		set("X-Real-IP", ip)
	}
}
