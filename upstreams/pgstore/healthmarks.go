package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

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
