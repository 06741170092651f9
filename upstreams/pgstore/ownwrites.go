package pgstore

import (
	"slices"
	"sync"
)

// maxOwnWrites bounds the own versions remembered for skipping their
// notifications; older ones are forgotten (their notification then causes
// a harmless reload).
const maxOwnWrites = 1024

// ownWrites remembers the versions this Store is committing or committed,
// until their notification arrives: the writer (the registry) applies an
// acknowledged write to its memory when Apply returns, so it needs no
// reload. A failed COMMIT is forgotten and makes every subscriber reload
// instead. Only safe because the registry never puts an older load over
// its own writes (see upstreams.Registry.Reload).
type ownWrites struct {
	mu       sync.Mutex
	versions map[int64]struct{}
	order    []int64 // oldest first
}

func (o *ownWrites) add(v int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.order) == maxOwnWrites {
		delete(o.versions, o.order[0])
		o.order = o.order[1:]
	}
	o.versions[v] = struct{}{}
	o.order = append(o.order, v)
}

// take reports whether v is an own version, and forgets it.
func (o *ownWrites) take(v int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.versions[v]; !ok {
		return false
	}
	o.deleteLocked(v)
	return true
}

// forget forgets v.
func (o *ownWrites) forget(v int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleteLocked(v)
}

func (o *ownWrites) deleteLocked(v int64) {
	delete(o.versions, v)
	if i := slices.Index(o.order, v); i >= 0 {
		o.order = slices.Delete(o.order, i, i+1)
	}
}
