// Package routing matches HTTP requests against Kong routes the way Kong
// 3.x's default router flavor, traditional_compatible, does, and computes
// the path a matched request is proxied with.
//
// A Router is compiled once from a set of routes (Compile) and is then
// immutable: matching takes no lock, tries only the routes a request's
// host and path can match (see Router), and allocates only its result
// (and a regex path's captures). What is matched, as in Kong's
// kong/router/transform.lua and compat.lua:
//
//   - paths: a prefix ("/api", plain byte prefix, no segment boundary) or a
//     regex ("~/items/(?<id>\d+)"), anchored at the start of the request's
//     normalized path;
//   - hosts: exact ("example.com"), leading wildcard ("*.example.com"),
//     trailing wildcard ("example.*"), each optionally with ":port";
//     compared case-insensitively;
//   - methods: exact;
//   - headers: every named header must have a value equal (ignoring case)
//     to one of the route's values, or matching a "~*" regex value (the
//     value and the regex are both lowercased, as Kong does);
//   - snis: on TLS requests only, the TLS server name.
//
// Routes are tried in Kong's priority order (see priority.go); a route
// whose paths mix regexes and prefixes of different lengths is split into
// one entry per group first, so each path is ranked on its own.
//
// Regexes are Go's RE2 syntax. Kong's traditional_compatible router
// compiles them with Rust's regex crate, which has the same feature set
// (no look-around, no backreferences, no possessive or atomic groups);
// PCRE-only constructs are rejected with an error naming the construct.
package routing
