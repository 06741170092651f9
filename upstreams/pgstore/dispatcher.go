package pgstore

import (
	"context"
	"sync"
	"time"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// maxPendingMarks bounds the health marks waiting for the dispatcher; a
// flood beyond it drops the oldest.
const maxPendingMarks = 1024

// dispatcher calls onChange and onMark on its own goroutine, coalescing
// change requests.
type dispatcher struct {
	onChange func()
	onMark   func(upstreams.HealthMark) // nil: marks are dropped
	kick     chan struct{}              // capacity 1: one wake-up pending at most

	mu        sync.Mutex
	pending   bool                   // an onChange call is due
	marks     []upstreams.HealthMark // marks to deliver, oldest first
	gen       uint64                 // bumped by reset
	notified  int64                  // highest version notified
	delivered int64                  // highest version an onChange call has covered
}

// changed records a notification of version v (0 if unknown).
func (d *dispatcher) changed(v int64) {
	d.mu.Lock()
	if v > 0 && v <= d.delivered {
		d.mu.Unlock()
		return
	}
	d.notified = max(d.notified, v)
	d.mu.Unlock()
	d.trigger()
}

// reset forgets versions, after a reconnection: the database may have
// been replaced (restored from a backup) with a lower version.
func (d *dispatcher) reset() {
	d.mu.Lock()
	d.gen++
	d.notified, d.delivered = 0, 0
	d.mu.Unlock()
}

// trigger asks for an onChange call without waiting for it.
func (d *dispatcher) trigger() {
	d.mu.Lock()
	d.pending = true
	d.mu.Unlock()
	d.wake()
}

// marked queues a health mark for onMark.
func (d *dispatcher) marked(m upstreams.HealthMark) {
	if d.onMark == nil {
		return
	}
	d.mu.Lock()
	if len(d.marks) == maxPendingMarks {
		d.marks = d.marks[1:]
	}
	d.marks = append(d.marks, m)
	d.mu.Unlock()
	d.wake()
}

// wake makes run look for work without waiting for it.
func (d *dispatcher) wake() {
	select {
	case d.kick <- struct{}{}:
	default: // one is pending already; it will see this change too
	}
}

// run calls onChange once per trigger (coalesced), then delivers the
// marks that arrived before it, until ctx is done.
func (d *dispatcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		}
		// Every version notified so far was committed before its
		// notification arrived, so before the onChange below starts.
		d.mu.Lock()
		gen, covered, change, marks := d.gen, d.notified, d.pending, d.marks
		d.pending, d.marks = false, nil
		d.mu.Unlock()
		if change {
			d.onChange()
			d.mu.Lock()
			if d.gen == gen {
				d.delivered = max(d.delivered, covered)
			}
			d.mu.Unlock()
		}
		for _, m := range marks {
			d.onMark(m)
		}
	}
}

// resync triggers onChange every interval until ctx is done.
func (d *dispatcher) resync(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.trigger()
		}
	}
}

// dispatchers is the set of a Store's running subscriptions.
type dispatchers struct {
	mu  sync.Mutex
	set map[*dispatcher]struct{}
}

func (ds *dispatchers) add(d *dispatcher) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.set == nil {
		ds.set = map[*dispatcher]struct{}{}
	}
	ds.set[d] = struct{}{}
}

func (ds *dispatchers) remove(d *dispatcher) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	delete(ds.set, d)
}

// changed tells every subscription that version v (0: unknown) changed.
func (ds *dispatchers) changed(v int64) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for d := range ds.set {
		d.changed(v)
	}
}
