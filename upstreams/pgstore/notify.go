package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// jitter spreads d by ±20% so that nodes do not reconnect in lockstep.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}
