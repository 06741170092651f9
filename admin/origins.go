package admin

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// provisionOrigins prepares the Host and Origin checks: the listener's
// loopback names plus AllowedHosts, and the normalized AllowedOrigins.
func (g *Guard) provisionOrigins(ls listeners) error {
	g.origins = map[string]bool{}
	for _, o := range g.AllowedOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return fmt.Errorf("allowed_origins: %v", err)
		}
		g.origins[n] = true
	}
	g.hosts = ls.loopbackHosts()
	if len(g.AllowedHosts) > 0 && g.hosts == nil {
		g.hosts = map[string]bool{}
	}
	g.anyPortHosts = map[string]bool{}
	for _, h := range g.AllowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			return fmt.Errorf("allowed_hosts: an empty host")
		}
		if _, _, err := net.SplitHostPort(h); err == nil {
			g.hosts[h] = true
		} else {
			g.anyPortHosts[hostOnly(strings.Trim(h, "[]"))] = true
		}
	}
	return nil
}

// normalizeOrigin returns an origin as browsers serialize it in the Origin
// header: lower-case scheme://host, with the port unless it is the
// scheme's default.
func normalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(origin), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port])", origin)
	}
	host := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = hostOnly(strings.ToLower(u.Hostname()))
	}
	return strings.ToLower(u.Scheme) + "://" + host, nil
}

// admits runs the Host and Origin checks, setting the CORS headers of an
// admitted request; it returns the refusal's message otherwise.
func (g *Guard) admits(w http.ResponseWriter, r *http.Request) (string, bool) {
	if g.hosts != nil && !g.hostAllowed(r.Host) {
		return "Host not allowed: " + r.Host, false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Kong's answer; only browsers read it, and a browser sends Origin
		// with every cross-origin request, which the check below governs
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		return "", true
	}
	if !g.originAllowed(origin, r) {
		return "Origin not allowed: " + origin, false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	return "", true
}

// hostAllowed reports whether a Host header names this listener.
func (g *Guard) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	if g.hosts[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = hostOnly(h)
	}
	return g.anyPortHosts[name]
}

// originAllowed reports whether origin is the request's own origin (the
// scheme and Host it was sent to) or one of AllowedOrigins. "null" (a
// sandboxed or file: page) is never allowed.
func (g *Guard) originAllowed(origin string, r *http.Request) bool {
	n, err := normalizeOrigin(origin)
	if err != nil {
		return false
	}
	if g.origins[n] {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	own, err := normalizeOrigin(scheme + "://" + r.Host)
	return err == nil && n == own
}

// isPreflight reports whether r is a CORS preflight: an OPTIONS request a
// browser sends, without credentials, before a cross-origin request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}
