// Package manager serves kong_manager: a web page for the registry's
// upstreams, targets, health and live traffic, and Kong's services and
// routes, in the role Kong Manager plays for Kong (Kong's habit is a
// listener of its own on :8002).
//
// The page is plain HTML, CSS and JavaScript modules embedded in the
// binary (no build step, no request leaves the listener). It talks to the
// Admin API, which the same handler serves under /api/, same-origin.
package manager
