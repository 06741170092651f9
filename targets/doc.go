// Package targets holds the contracts between the upstreams registry and
// the modules that turn targets into balanced addresses: resolvers of
// hostname targets (resolver.go, Caddy namespace upstreams.resolvers) and
// target sources (source.go). It has plain types only and imports nothing
// of the registry, so a module implementing them does not depend on the
// registry either.
package targets
