package balance

import (
	"net/http"
	"net/textproto"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/google/uuid"
)

// ConsumerHeader is the request header that identifies the consumer for
// hash_on=consumer when no Caddy authentication handler set
// {http.auth.user.id}.
const ConsumerHeader = "X-Consumer-ID"

var consumerHeaderKey = textproto.CanonicalMIMEHeaderKey(ConsumerHeader)

// Hash inputs (hash_on / hash_fallback values).
const (
	hashOnNone       = "none"
	hashOnConsumer   = "consumer"
	hashOnIP         = "ip"
	hashOnHeader     = "header"
	hashOnCookie     = "cookie"
	hashOnPath       = "path"
	hashOnQueryArg   = "query_arg"
	hashOnURICapture = "uri_capture"
)

// hashInput is one hash_on method and its parameter: a canonical header
// name, a query argument, or a replacer key for a regexp capture.
type hashInput struct {
	on, param string
}

// hashInputs are an upstream's primary and fallback hash inputs; the
// cookie settings are shared, as in Kong (the cookie fallback still uses
// hash_on_cookie).
type hashInputs struct {
	primary, fallback      hashInput
	cookieName, cookiePath string
}

func newHashInputs(c Config) hashInputs {
	input := func(in Input) hashInput {
		switch in.On {
		case hashOnHeader:
			return hashInput{in.On, textproto.CanonicalMIMEHeaderKey(in.Header)}
		case hashOnQueryArg:
			return hashInput{in.On, in.QueryArg}
		case hashOnURICapture:
			return hashInput{in.On, "http.regexp." + in.URICapture}
		}
		return hashInput{on: in.On}
	}
	return hashInputs{
		primary:    input(c.HashOn),
		fallback:   input(c.HashFallback),
		cookieName: c.HashCookie,
		cookiePath: c.HashCookiePath,
	}
}

// key returns the request's hash input: the primary input's value, else
// the fallback's, else "" (Kong's get_value_to_hash). A missing hash
// cookie is generated (a v4 UUID) and queued on req for the response.
func (h *hashInputs) key(req *Request) string {
	if req.Request == nil {
		return ""
	}
	if v, ok := h.value(h.primary, req); ok {
		return v
	}
	if v, ok := h.value(h.fallback, req); ok {
		return v
	}
	return ""
}

func (h *hashInputs) value(in hashInput, req *Request) (string, bool) {
	r := req.Request
	switch in.on {
	case hashOnConsumer:
		if id := replacerValue(r, "http.auth.user.id"); id != "" {
			return id, true
		}
		return headerValue(r, consumerHeaderKey)
	case hashOnIP:
		if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
			return ip, true
		}
		return hostOnly(r.RemoteAddr), r.RemoteAddr != ""
	case hashOnHeader:
		return headerValue(r, in.param)
	case hashOnCookie:
		if v, ok := requestCookie(r, h.cookieName); ok {
			return v, true
		}
		v := uuid.NewString()
		req.setCookie(h.cookieName, v, h.cookiePath)
		return v, true
	case hashOnPath:
		return r.URL.Path, true
	case hashOnQueryArg:
		return queryValue(r, in.param)
	case hashOnURICapture:
		v := replacerValue(r, in.param)
		return v, v != ""
	}
	return "", false
}

// headerValue returns a header's values joined with ", " as nginx does.
func headerValue(r *http.Request, canonicalName string) (string, bool) {
	vs := r.Header[canonicalName]
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return vs[0], true
	}
	return strings.Join(vs, ", "), true
}

// queryValue returns a query argument; several values are sorted and
// joined with "," as Kong does.
func queryValue(r *http.Request, name string) (string, bool) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		sort.Strings(vs)
	}
	return strings.Join(vs, ","), true
}

// replacerValue reads a placeholder of the request's Caddy replacer.
func replacerValue(r *http.Request, key string) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	v, _ := repl.GetString(key)
	return v
}

// requestCookie returns the value of the first cookie called name
// without parsing (or allocating for) the others.
func requestCookie(r *http.Request, name string) (string, bool) {
	if name == "" {
		return "", false
	}
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if k, v, ok := strings.Cut(part, "="); ok && k == name {
				return strings.Trim(v, `"`), true
			}
		}
	}
	return "", false
}

// hostOnly strips the port from host:port.
func hostOnly(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.HasSuffix(addr, "]") {
		return strings.TrimSuffix(strings.TrimPrefix(addr[:i], "["), "]")
	}
	return addr
}
