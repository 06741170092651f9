package upstreams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/schema"
)

// Writes take two locks. The write lock (r.writing) serialises them from
// the first check to the last change in memory, store call included; a
// write whose caller gives up while it waits for the write lock leaves
// without running. r.mu, the state lock,
// is only read-locked while a write checks the request against the
// registry's content, and write-locked while it installs the result once
// the store has it: never across the store call, so Admin API reads and
// the proxy's publications never wait for the database.
//
// Between the checks and the install, a Reload (another node's writes) or
// a target source may change the content: installs therefore apply the
// write to the content as it is then, not to what the checks saw.

// change is what one write does: the batch it stores, and install, which
// makes the same change in memory once the batch is durable. install runs
// with r.mu held.
type change struct {
	batch   Batch
	install func()
}

// write runs one write. plan, run with r.mu held for reading, checks the
// request and returns its change; a change with an empty batch writes
// nothing. The change is installed only once the store has applied its
// batch.
func (r *Registry) write(ctx context.Context, plan func() (change, error)) error {
	if err := r.lockWrites(ctx); err != nil {
		return err
	}
	defer r.unlockWrites()
	r.mu.RLock()
	c, err := plan()
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	if len(c.batch.Put) == 0 && len(c.batch.Delete) == 0 {
		return nil
	}
	if err := r.apply(ctx, c.batch); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c.install()
	return nil
}

// lockWrites takes the write lock, unless ctx ends first.
func (r *Registry) lockWrites(ctx context.Context) error {
	select {
	case r.writing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the registry's write lock: %w", ctx.Err())
	}
}

func (r *Registry) unlockWrites() { <-r.writing }

// writeEntity runs a write of one entity, which plan returns with its
// change, and hands the caller its own copy of it: the stored one is
// shared with pools and gateway snapshots and must not change.
func writeEntity[T any](ctx context.Context, r *Registry, plan func() (*T, change, error)) (*T, error) {
	var e *T
	err := r.write(ctx, func() (change, error) {
		var c change
		var err error
		e, c, err = plan()
		return c, err
	})
	if err != nil {
		return nil, err
	}
	return cloneOf(e), nil
}

// apply writes a batch to the store and maps store failures to Kong errors.
func (r *Registry) apply(ctx context.Context, b Batch) error {
	err := r.store.Apply(ctx, b)
	if err == nil {
		r.writes.Add(1)
		return nil
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		return storeConflict(ce)
	}
	return r.storeError("registry write", err)
}

// storeConflict renders a unique key the store found taken (by another
// node, after this node's own check passed) as that check would have.
func storeConflict(ce *ConflictError) error {
	switch ce.Kind {
	case UpstreamSchema.Name, ServiceSchema.Name, RouteSchema.Name:
		return schema.UniqueViolation(map[string]any{"name": ce.Key})
	case TargetSchema.Name:
		if upstreamID, target, ok := strings.Cut(ce.Key, "|"); ok {
			return schema.UniqueViolation(map[string]any{"target": target, "upstream": map[string]any{"id": upstreamID}})
		}
	}
	return schema.UniqueViolation(map[string]any{"key": ce.Key})
}

// storeError maps a store failure other than a conflict to a Kong
// database error: 503 when the store is out of reach, else 500.
func (r *Registry) storeError(what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		r.logger.Warn(what+" refused: store unavailable", zap.Error(err))
		return schema.DatabaseError(http.StatusServiceUnavailable, "the registry's store is unavailable; try again later")
	}
	r.logger.Error(what+" failed", zap.Error(err))
	return schema.DatabaseError(http.StatusInternalServerError, "An unexpected error occurred")
}
