package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/boltstore"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams/storetest"
)

// TestBoltStore runs the suite against the embedded store, which keeps
// the suite itself honest without a database server.
func TestBoltStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) upstreams.Store {
		s := new(boltstore.Store)
		if err := s.Open(filepath.Join(t.TempDir(), "s.db")); err != nil {
			t.Fatal(err)
		}
		return s
	})
}
