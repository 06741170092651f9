// Package admin serves the Kong-compatible Admin API for the upstreams
// registry: Kong 3.x's paths, methods, JSON shapes, defaults, errors and
// pagination, so Kong users' scripts and tools run unchanged.
//
// One implementation (API) is mounted twice: under /kong/ on Caddy's own
// admin endpoint (module admin.api.upstreams, with Caddy's host and origin
// protections), and as the kong_admin HTTP handler for a dedicated listener
// such as Kong's habitual :8001, behind a Guard (Host and Origin checks,
// tokens, an audit log) that any other handler serving the API can apply.
package admin
