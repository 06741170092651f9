// Package boltstore is the registry's embedded default store: a bbolt file
// in Caddy's data directory, every acknowledged write fsync'd.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func init() {
	caddy.RegisterModule(Store{})
}

// DefaultFileName is the file the store uses inside Caddy's data directory
// when no path is configured.
const DefaultFileName = "upstreams.db"

// Store keeps registry records in a bbolt database file. Each Apply is one
// bbolt transaction, committed with fsync before it returns.
//
// Layout: bucket "records/<kind>" maps id to the record; "keys/<kind>"
// maps each unique key to its record's id; "children" holds
// "<parent id>\x00<kind>\x00<id>" for cascading deletes.
type Store struct {
	// Path of the database file. Default: upstreams.db in Caddy's data
	// directory ($XDG_DATA_HOME/caddy or ~/.local/share/caddy).
	Path string `json:"path,omitempty"`

	db *bolt.DB
}

// CaddyModule returns the Caddy module information.
func (Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "upstreams.stores.bolt",
		New: func() caddy.Module { return new(Store) },
	}
}

// Provision opens (creating if needed) the database file.
func (s *Store) Provision(ctx caddy.Context) error {
	if s.Path == "" {
		s.Path = filepath.Join(caddy.AppDataDir(), DefaultFileName)
	}
	return s.Open(s.Path)
}

// Open opens the database at path; Provision calls it.
func (s *Store) Open(path string) error {
	s.Path = path
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return fmt.Errorf("opening %s: the file is locked by another process (another Caddy using the same store?)", path)
		}
		return fmt.Errorf("opening %s: %w", path, err)
	}
	s.db = db
	return nil
}

// Load returns every record.
func (s *Store) Load(ctx context.Context) ([]upstreams.Record, error) {
	var out []upstreams.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if !bytes.HasPrefix(name, []byte("records/")) {
				return nil
			}
			return b.ForEach(func(_, v []byte) error {
				var rec upstreams.Record
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("decoding record: %w", err)
				}
				out = append(out, rec)
				return nil
			})
		})
	})
	unmapPages(s.db)
	return out, err
}

// Apply writes a batch in one fsync'd transaction.
func (s *Store) Apply(ctx context.Context, batch upstreams.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer unmapPages(s.db)
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, ref := range batch.Delete {
			if err := deleteRecord(tx, ref.Kind, ref.ID); err != nil {
				return err
			}
		}
		for _, rec := range batch.Put {
			if err := putRecord(tx, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the database file.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

func putRecord(tx *bolt.Tx, rec upstreams.Record) error {
	records, err := tx.CreateBucketIfNotExists([]byte("records/" + rec.Kind))
	if err != nil {
		return err
	}
	keys, err := tx.CreateBucketIfNotExists([]byte("keys/" + rec.Kind))
	if err != nil {
		return err
	}
	children, err := tx.CreateBucketIfNotExists([]byte("children"))
	if err != nil {
		return err
	}
	if rec.Key != "" {
		if owner := keys.Get([]byte(rec.Key)); owner != nil && string(owner) != rec.ID {
			return &upstreams.ConflictError{Kind: rec.Kind, Key: rec.Key}
		}
	}
	if prev := records.Get([]byte(rec.ID)); prev != nil {
		var old upstreams.Record
		if err := json.Unmarshal(prev, &old); err != nil {
			return err
		}
		if old.Key != "" && old.Key != rec.Key {
			if err := keys.Delete([]byte(old.Key)); err != nil {
				return err
			}
		}
		if old.Parent != "" && old.Parent != rec.Parent {
			if err := children.Delete(childKey(old.Parent, rec.Kind, rec.ID)); err != nil {
				return err
			}
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := records.Put([]byte(rec.ID), data); err != nil {
		return err
	}
	if rec.Key != "" {
		if err := keys.Put([]byte(rec.Key), []byte(rec.ID)); err != nil {
			return err
		}
	}
	if rec.Parent != "" {
		return children.Put(childKey(rec.Parent, rec.Kind, rec.ID), nil)
	}
	return nil
}

func deleteRecord(tx *bolt.Tx, kind, id string) error {
	records := tx.Bucket([]byte("records/" + kind))
	if records == nil {
		return nil
	}
	raw := records.Get([]byte(id))
	if raw == nil {
		return nil
	}
	var rec upstreams.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return err
	}
	if err := records.Delete([]byte(id)); err != nil {
		return err
	}
	if rec.Key != "" {
		if keys := tx.Bucket([]byte("keys/" + kind)); keys != nil {
			if err := keys.Delete([]byte(rec.Key)); err != nil {
				return err
			}
		}
	}
	children := tx.Bucket([]byte("children"))
	if children == nil {
		return nil
	}
	if rec.Parent != "" {
		if err := children.Delete(childKey(rec.Parent, kind, id)); err != nil {
			return err
		}
	}
	// cascade: collect first, since deleting while iterating a cursor is unsafe
	prefix := []byte(id + "\x00")
	var kids [][2]string
	c := children.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		parts := bytes.SplitN(k[len(prefix):], []byte{0}, 2)
		if len(parts) == 2 {
			kids = append(kids, [2]string{string(parts[0]), string(parts[1])})
		}
	}
	for _, kid := range kids {
		if err := deleteRecord(tx, kid[0], kid[1]); err != nil {
			return err
		}
	}
	return nil
}

func childKey(parent, kind, id string) []byte {
	return []byte(parent + "\x00" + kind + "\x00" + id)
}

// Interface guards
var (
	_ upstreams.Store   = (*Store)(nil)
	_ caddy.Provisioner = (*Store)(nil)
)
