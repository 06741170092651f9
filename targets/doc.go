// Package targets holds the contracts between the upstreams registry and
// the modules that turn a target into balanced addresses: resolvers (DNS,
// namespace upstreams.resolvers, resolver.go) and target sources (source.go). It has plain types
// only and imports nothing of the registry, so a module implementing them
// does not depend on the registry either.
package targets
