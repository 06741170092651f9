package admin

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Guard is the protection an HTTP listener serving the Admin API applies:
// the kong_admin handler embeds it, and any other handler that serves the
// API (a web UI serving it same-origin, for one) can embed it too, calling
// Provision and Serve. In the order it checks:
//
//  1. Host: on a loopback-only listener, a Host that is not the listener's
//     own (localhost, 127.0.0.1, [::1] or its address, with the port) nor
//     in AllowedHosts answers 403 (DNS rebinding). With AllowedHosts set,
//     only those (and the loopback names on a loopback listener) pass.
//  2. Origin: a request whose Origin is neither the request's own origin
//     nor in AllowedOrigins answers 403 and changes nothing. A browser
//     sends Origin on every cross-origin read and on every write, so a web
//     page can neither read the API nor write through it; curl, decK and
//     go-kong send no Origin and are unaffected. Allowed origins get CORS
//     headers (and preflights their answer).
//  3. Token, when one is set: a missing or wrong token answers 401, and
//     an address that failed TokenFailureBurst times within
//     TokenFailureWindow answers 429 until the window ends.
//
// Every write is then logged on AuditLoggerName.
//
// Provision refuses a listener that is not loopback-only unless a token is
// set or Public states that something else guards it.
type Guard struct {
	// Token required in TokenHeader; empty means no token check.
	// Placeholders such as {env.KONG_ADMIN_TOKEN} or
	// {file./etc/caddy/admin.token} are expanded. Audit lines name it
	// "default".
	Token string `json:"token,omitempty"`
	// Tokens are further accepted tokens by name (placeholders expanded as
	// for Token); the audit log names the one a write came with. Several
	// tokens let one be rotated without downtime.
	Tokens map[string]string `json:"tokens,omitempty"`
	// TokenHeader is the header carrying the token. Default Kong-Admin-Token.
	TokenHeader string `json:"token_header,omitempty"`
	// TokenFailureBurst is how many wrong tokens one client address may
	// send within TokenFailureWindow before its requests answer 429 until
	// the window ends. Default 10.
	TokenFailureBurst int `json:"token_failure_burst,omitempty"`
	// TokenFailureWindow is the window the failures are counted in,
	// opened by an address's first failure. Default 1m.
	TokenFailureWindow caddy.Duration `json:"token_failure_window,omitempty"`
	// AllowedOrigins are the origins (scheme://host[:port]) of web pages
	// allowed to call the API from a browser, besides the API's own origin.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// AllowedHosts are Host values accepted besides the listener's own
	// loopback names ("admin.internal:8001"; a name without a port matches
	// any port). When set, the Host check applies on any listener.
	AllowedHosts []string `json:"allowed_hosts,omitempty"`
	// Public allows serving a listener that is not loopback-only without a
	// token, stating that something else guards it (basic_auth,
	// forward_auth, TLS client authentication, a firewall).
	Public bool `json:"public,omitempty"`

	tokens       tokenSet
	throttle     *failureThrottle
	hosts        map[string]bool // exact Host values; nil: no Host check
	anyPortHosts map[string]bool // AllowedHosts given without a port
	origins      map[string]bool
	audit        *zap.Logger
}

// Provision expands the tokens, reads the listener addresses of the HTTP
// server being provisioned and refuses a listener that is not
// loopback-only when neither a token nor Public is set. directive names
// the handler in messages ("kong_admin").
func (g *Guard) Provision(ctx caddy.Context, directive string) error {
	tokens, err := expandTokens(&g.Token, g.Tokens)
	if err != nil {
		return fmt.Errorf("%s: %v", directive, err)
	}
	g.tokens = tokens
	if g.TokenHeader == "" {
		g.TokenHeader = DefaultTokenHeader
	}
	if g.TokenFailureBurst < 0 || g.TokenFailureWindow < 0 {
		return fmt.Errorf("%s: token_failure_burst and token_failure_window must not be negative", directive)
	}
	burst, window := g.TokenFailureBurst, time.Duration(g.TokenFailureWindow)
	if burst == 0 {
		burst = DefaultTokenFailureBurst
	}
	if window == 0 {
		window = DefaultTokenFailureWindow
	}
	g.throttle = newFailureThrottle(burst, window)

	ls, err := serverListeners(ctx)
	if err != nil {
		return fmt.Errorf("%s: %v", directive, err)
	}
	if err := g.checkExposure(ls, directive); err != nil {
		return err
	}
	if err := g.provisionOrigins(ls); err != nil {
		return fmt.Errorf("%s: %v", directive, err)
	}
	g.audit = auditLogger(ctx)
	return nil
}

// checkExposure refuses to serve the API unauthenticated on a listener
// other machines can reach, unless Public says something else guards it.
func (g *Guard) checkExposure(ls listeners, directive string) error {
	if len(g.tokens) > 0 || g.Public || ls.loopbackOnly() {
		return nil
	}
	where := "an HTTP server whose listeners are unknown"
	if len(ls.addrs) > 0 {
		where = "server " + ls.String() + ", which is not loopback-only"
	}
	return fmt.Errorf("%s would serve the Admin API without a token on %s: "+
		"bind the site to loopback (`bind 127.0.0.1`), set a token (`token {env.KONG_ADMIN_TOKEN}`), "+
		"or state `public` if another handler guards it (basic_auth, forward_auth, TLS client_auth)", directive, where)
}

// Serve checks a request as the type's doc says and, when it passes,
// serves it with next, logging writes. The answers Serve writes itself
// are Kong-shaped, with Kong's Server and X-Kong-Admin-Latency headers.
func (g *Guard) Serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	w = withAdminLatency(w)
	if reason, ok := g.admits(w, r); !ok {
		g.refuse(w, r, http.StatusForbidden, reason, reason)
		return
	}
	if isPreflight(r) {
		next.ServeHTTP(w, r) // browsers send no credentials in a preflight
		return
	}
	tokenName := ""
	if len(g.tokens) > 0 {
		client := clientAddress(r)
		if wait, blocked := g.throttle.blocked(client); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			g.refuse(w, r, http.StatusTooManyRequests, "API rate limit exceeded", "too many failed tokens")
			return
		}
		name, ok := g.tokens.match(r.Header.Get(g.TokenHeader))
		if !ok {
			g.throttle.fail(client)
			g.refuse(w, r, http.StatusUnauthorized, "Invalid credentials. Token or User credentials required", "missing or wrong token")
			return
		}
		tokenName = name
	}
	serveAudited(g.audit, tokenName, next, w, r)
}

// refuse answers a refused request and logs it at warn on the audit logger.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, message, reason string) {
	if g.audit != nil {
		g.audit.Warn("admin request refused",
			zap.String("reason", reason),
			zap.String("method", r.Method),
			zap.String("path", r.URL.Path),
			zap.String("host", r.Host),
			zap.String("origin", r.Header.Get("Origin")),
			zap.String("remote_addr", r.RemoteAddr),
			zap.Int("status", status))
	}
	w.Header().Set("Server", "kong/"+KongVersion)
	writeError(w, r, schema.Plain(status, message))
}
