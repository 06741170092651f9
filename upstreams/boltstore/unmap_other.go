//go:build !linux

package boltstore

import bolt "go.etcd.io/bbolt"

// unmapPages does nothing outside Linux: the mapped pages stay until the
// kernel reclaims them.
func unmapPages(*bolt.DB) {}
