package admin

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// AuditLoggerName is the logger on which every Admin API write is logged
// once, at info, and every refused request (token, origin, host,
// throttling) at warn. Caddy's `log` config routes it like any module's
// logs: `log audit { include upstreams.admin.audit; output file … }`.
const AuditLoggerName = "upstreams.admin.audit"

// auditLog names the audit logger: Caddy's per-config logging picks the
// outputs of a logger by the module ID it is created for.
type auditLog struct{}

// CaddyModule names the audit logger; it is not a registered module.
func (auditLog) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: AuditLoggerName}
}

// auditLogger returns the config's logger named AuditLoggerName.
func auditLogger(ctx caddy.Context) *zap.Logger { return ctx.Logger(auditLog{}) }

// maxAuditedBody bounds how much of a write's answer is kept to read the
// written entity's id from it.
const maxAuditedBody = 64 << 10

// auditRecorder keeps a write's status and the start of its answer.
type auditRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

// WriteHeader records the status.
func (ar *auditRecorder) WriteHeader(status int) {
	if ar.status == 0 {
		ar.status = status
	}
	ar.ResponseWriter.WriteHeader(status)
}

// Write records the start of the body.
func (ar *auditRecorder) Write(b []byte) (int, error) {
	if ar.status == 0 {
		ar.status = http.StatusOK
	}
	if room := maxAuditedBody - ar.body.Len(); room > 0 {
		ar.body.Write(b[:min(room, len(b))])
	}
	return ar.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (ar *auditRecorder) Unwrap() http.ResponseWriter { return ar.ResponseWriter }

// isWrite reports whether a method changes something.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// serveAudited serves a request with next and, when it is a write, logs
// one line: method, path, entity kind and id, client address, the name of
// the token that authenticated it (when tokens are set) and status. Never
// the body, the query or a token's value.
func serveAudited(logger *zap.Logger, tokenName string, next http.Handler, w http.ResponseWriter, r *http.Request) {
	if !isWrite(r.Method) {
		next.ServeHTTP(w, r)
		return
	}
	rec := &auditRecorder{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	kind, key := entityOf(r.URL.EscapedPath())
	if id := writtenID(rec); id != "" {
		key = id
	}
	fields := []zap.Field{
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("kind", kind),
		zap.String("id", key),
		zap.String("remote_addr", r.RemoteAddr),
	}
	if ip := clientAddress(r); ip != remoteHost(r) {
		fields = append(fields, zap.String("client_ip", ip))
	}
	if tokenName != "" {
		fields = append(fields, zap.String("token", tokenName))
	}
	fields = append(fields, zap.Int("status", rec.status))
	logger.Info("admin write", fields...)
}

// auditCollections are the path segments that name an entity kind, and the
// kind each names.
var auditCollections = map[string]string{
	"upstreams": "upstreams", "targets": "targets", "services": "services", "service": "services",
	"routes": "routes", "config": "config", "schemas": "schemas",
}

// entityOf reads the kind and key of the entity a path addresses, from its
// collection/key pairs after any mount prefix: /upstreams/u/targets/t is
// (targets, t), /routes/r/service is (services, "").
func entityOf(escapedPath string) (kind, key string) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for len(segs) > 0 && auditCollections[segs[0]] == "" {
		segs = segs[1:] // the mount prefix (/kong)
	}
	for i := 0; i < len(segs); i += 2 {
		k := auditCollections[segs[i]]
		if k == "" {
			break
		}
		kind, key = k, ""
		if i+1 < len(segs) {
			key, _ = url.PathUnescape(segs[i+1])
		}
	}
	return kind, key
}

// writtenID is the id of the entity a successful write answered with.
func writtenID(rec *auditRecorder) string {
	if rec.status < 200 || rec.status > 299 || rec.body.Len() == 0 {
		return ""
	}
	var entity struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(rec.body.Bytes(), &entity) != nil {
		return ""
	}
	return entity.ID
}

// clientAddress is the client's IP: Caddy's client_ip (which honours
// trusted_proxies) when the request went through an HTTP server, else the
// connection's remote host.
func clientAddress(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	return remoteHost(r)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
