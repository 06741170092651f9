package upstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Record is one stored entity. Stores know nothing of entity fields: they
// keep records by kind and id, enforce Key uniqueness within a kind, and
// delete children with their parent.
type Record struct {
	// Kind is the entity's plural name ("upstreams", "targets").
	Kind string `json:"kind"`
	// ID is the entity's UUID.
	ID string `json:"id"`
	// Parent is the id of the record this one belongs to (a target's
	// upstream); deleting the parent deletes it. Empty for roots.
	Parent string `json:"parent,omitempty"`
	// Key is unique among records of the same Kind ("" = no unique key).
	Key string `json:"key,omitempty"`
	// Data is the entity's JSON.
	Data json.RawMessage `json:"data"`
}

// RecordRef names a record to delete.
type RecordRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Batch is a set of changes applied atomically: all or nothing.
type Batch struct {
	Put    []Record    `json:"put,omitempty"`
	Delete []RecordRef `json:"delete,omitempty"`
}

// Store persists registry records. Implementations must make an
// acknowledged Apply durable (fsync or commit) before returning, apply a
// batch atomically, and return an error wrapping ErrConflict when a Put
// would give two records of one kind the same Key.
type Store interface {
	// Load returns every stored record.
	Load(ctx context.Context) ([]Record, error)
	// Apply writes a batch atomically. Deleting a record deletes the
	// records whose Parent it is, recursively.
	Apply(ctx context.Context, b Batch) error
	// Close releases the store.
	Close() error
}

// ChangeNotifier is implemented by stores shared by several nodes. Subscribe
// calls onChange (from any goroutine) whenever another writer may have
// changed the store, and after a reconnect; the registry then reloads.
// It need not call it for the writes this store acknowledged: the registry
// applied those to its memory when Apply returned. Subscribe returns when
// ctx is done.
type ChangeNotifier interface {
	Subscribe(ctx context.Context, onChange func()) error
}

// HealthBroadcaster is implemented by stores shared by several nodes that
// carry manual healthy/unhealthy calls to every node, as Kong broadcasts
// them as cluster events. Health otherwise stays per node: only manual
// marks travel.
type HealthBroadcaster interface {
	ChangeNotifier
	// BroadcastHealth sends m to every other node subscribed to the store.
	BroadcastHealth(ctx context.Context, m HealthMark) error
	// SubscribeWithHealth is Subscribe that also calls onMark with each
	// mark broadcast by another node, on the goroutine that calls
	// onChange, after any onChange that was due when the mark arrived
	// (so a mark for a target just created finds the target).
	SubscribeWithHealth(ctx context.Context, onChange func(), onMark func(HealthMark)) error
}

// HealthMark is a manual healthy/unhealthy call, as broadcast to the other
// nodes.
type HealthMark struct {
	// UpstreamID and TargetID name the target.
	UpstreamID string `json:"upstream_id"`
	TargetID   string `json:"target_id"`
	// Host and Port restrict the mark to one address of the target
	// (Host empty: every address).
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	// Healthy is the state forced.
	Healthy bool `json:"healthy"`
}

// ErrConflict is returned (wrapped) by Store.Apply when a unique key is taken.
var ErrConflict = errors.New("unique key conflict")

// ErrUnavailable is returned (wrapped) by a store that cannot be reached.
var ErrUnavailable = errors.New("store unavailable")

// ConflictError tells which record's key is already taken.
type ConflictError struct {
	Kind, Key string
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: unique key %q already taken", e.Kind, e.Key)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }
