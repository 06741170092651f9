package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// livenessInterval is how long the listening connection may stay silent
// before Subscribe pings it, to notice a dead connection that never said
// so (a network that drops packets instead of refusing). A variable so
// that tests can shorten it.
var livenessInterval = 15 * time.Second

const (
	// pingTimeout bounds the liveness ping.
	pingTimeout = 5 * time.Second
	// minBackoff and maxBackoff bound the wait between reconnect attempts.
	// The cap is low so that a node is listening (and resynced) again
	// within about 2 s of the database coming back; one connection attempt
	// per node every 2 s costs the database nothing.
	minBackoff = 200 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// maxPendingMarks bounds the health marks waiting for the dispatcher; a
// flood beyond it drops the oldest.
const maxPendingMarks = 1024

// notification is the NOTIFY payload: Apply sends one on commit, and
// BroadcastHealth one with Health set.
type notification struct {
	// Version is the store version the write committed (0 for a mark).
	Version int64 `json:"version"`
	// Node identifies the Store instance that wrote.
	Node string `json:"node"`
	// Health is a manual health mark to apply on every other node.
	Health *upstreams.HealthMark `json:"health,omitempty"`
}

// BroadcastHealth sends a health mark to the other nodes' subscriptions
// (SubscribeWithHealth) with a NOTIFY on the change channel. A database
// out of reach gives an error wrapping upstreams.ErrUnavailable.
func (s *Store) BroadcastHealth(ctx context.Context, m upstreams.HealthMark) error {
	if err := s.usable(); err != nil {
		return err
	}
	payload, err := json.Marshal(notification{Node: s.node, Health: &m})
	if err != nil {
		return err
	}
	// repeating the NOTIFY is harmless: a mark is idempotent
	err = s.retry(ctx, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.names.channel, string(payload))
		return err
	})
	if err != nil {
		return fmt.Errorf("broadcasting a health mark: %w", classify(ctx, err))
	}
	return nil
}

// Subscribe calls onChange whenever the records may have changed: on a
// NOTIFY from any other writer (not for the writes this Store
// acknowledged: its caller has them), when a COMMIT of this Store failed
// (the batch may or may not have been applied), after every
// (re)connection of its listening connection (the first one included), and
// every ResyncInterval. It listens on a dedicated connection, reconnects
// with backoff when the database goes away, and returns nil when ctx is
// done or the store is closed. It returns an error wrapping
// upstreams.ErrUnavailable at once if the store is not open (or closed).
//
// onChange runs on one goroutine, never concurrently with itself, and
// never on the listening goroutine: a slow reload does not stop
// notifications from being read. Notifications that arrive while onChange
// runs are coalesced into one more call, and a notification whose version
// an earlier call already covered (the call started after that version
// was committed) is dropped.
func (s *Store) Subscribe(ctx context.Context, onChange func()) error {
	return s.SubscribeWithHealth(ctx, onChange, nil)
}

// SubscribeWithHealth is Subscribe that also calls onMark (if not nil),
// on the goroutine that calls onChange, with each health mark another
// node broadcast, after any onChange that was due when the mark arrived.
// Marks this node broadcast are not delivered back to it.
func (s *Store) SubscribeWithHealth(ctx context.Context, onChange func(), onMark func(upstreams.HealthMark)) error {
	if err := s.usable(); err != nil {
		return err
	}
	l := s.life
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.subs.Add(1)
	l.mu.Unlock()
	defer l.subs.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	d := &dispatcher{onChange: onChange, onMark: onMark, kick: make(chan struct{}, 1)}
	l.running.add(d)
	defer l.running.remove(d)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.run(ctx) }()
	go func() { defer wg.Done(); d.resync(ctx, time.Duration(s.ResyncInterval)) }()
	s.listen(ctx, d)
	wg.Wait()
	return nil
}

// listen keeps a LISTEN connection open until ctx is done, feeding d.
func (s *Store) listen(ctx context.Context, d *dispatcher) {
	backoff := minBackoff
	lost := false // a connection was lost and not yet re-established
	for ctx.Err() == nil {
		conn, err := s.connectListener(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !lost {
				s.logger.Warn("cannot listen for registry changes; retrying", zap.Error(err))
				lost = true
			} else {
				s.logger.Debug("reconnecting the change listener failed", zap.Error(err), zap.Duration("next", backoff))
			}
			if !pause(ctx, jitter(backoff)) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		if lost {
			s.logger.Info("listening for registry changes again")
			lost = false
		}
		backoff = minBackoff
		d.reset() // versions seen before may not apply to what is there now
		d.trigger()
		err = s.receive(ctx, conn, d)
		conn.Close(context.Background())
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("lost the connection listening for registry changes; reconnecting", zap.Error(err))
		lost = true
	}
}

// connectListener opens a connection outside the pool and LISTENs.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.names.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("LISTEN %s: %w", s.names.channel, err)
	}
	return conn, nil
}

// receive reads notifications until the connection fails or ctx is done.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, d *dispatcher) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, livenessInterval)
		n, err := conn.WaitForNotification(wctx)
		timedOut := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && timedOut && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		case err != nil:
			return err
		default:
			var msg notification
			if err := json.Unmarshal([]byte(n.Payload), &msg); err != nil {
				s.logger.Debug("unexpected payload on the change channel", zap.String("payload", n.Payload))
				msg = notification{} // unknown: reload anyway
			}
			if msg.Health != nil {
				if msg.Node != s.node {
					d.marked(*msg.Health)
				}
				continue
			}
			if msg.Node == s.node && s.own.take(msg.Version) {
				// the caller of Apply has this write already
				s.logger.Debug("own acknowledged write notified; no reload", zap.Int64("version", msg.Version))
				continue
			}
			s.logger.Debug("registry change notified", zap.Int64("version", msg.Version),
				zap.String("writer", msg.Node), zap.Bool("own_write", msg.Node == s.node))
			d.changed(msg.Version)
		}
	}
}

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

// jitter spreads d by ±20% so that nodes do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}

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
