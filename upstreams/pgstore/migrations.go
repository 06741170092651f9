package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one schema change. Migrations are applied in order, each
// once; their number is their position in migrations, starting at 1.
// Never edit or reorder a released migration: append a new one.
type migration struct {
	name string
	sql  string // {records}, {state}, {prefix} name the prefixed tables
}

// migrations is the schema's history.
var migrations = []migration{
	{
		name: "records and store version",
		sql: `
CREATE TABLE {state} (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	version   bigint  NOT NULL
);
INSERT INTO {state} (version) VALUES (0);

CREATE TABLE {records} (
	kind       text        NOT NULL,
	id         text        NOT NULL,
	parent     text        NOT NULL DEFAULT '',
	key        text        NOT NULL DEFAULT '',
	data       json        NOT NULL, -- json, not jsonb: the text is kept as written
	version    bigint      NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX {prefix}upstreams_records_kind_key ON {records} (kind, key) WHERE key <> '';
CREATE INDEX {prefix}upstreams_records_parent ON {records} (parent) WHERE parent <> '';
CREATE INDEX {prefix}upstreams_records_version ON {records} (version);
`,
	},
}

// migrate brings the schema up to date in one transaction, holding a
// transaction-scoped advisory lock so that nodes starting together take
// turns: the first migrates, the others then find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, n names) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, n.lockKey); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, n.sql(`CREATE TABLE IF NOT EXISTS {migrations} (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`)); err != nil {
			return fmt.Errorf("creating %s: %w", n.migrations, err)
		}
		var current int
		if err := tx.QueryRow(ctx, n.sql(`SELECT coalesce(max(version), 0) FROM {migrations}`)).Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > len(migrations) {
			return fmt.Errorf("the database schema is at version %d, newer than this build knows (%d): upgrade this node", current, len(migrations))
		}
		for i := current; i < len(migrations); i++ {
			m := migrations[i]
			if _, err := tx.Exec(ctx, n.sql(m.sql)); err != nil {
				return fmt.Errorf("migration %d (%s): %w", i+1, m.name, err)
			}
			if _, err := tx.Exec(ctx, n.sql(`INSERT INTO {migrations} (version, name) VALUES ($1, $2)`), i+1, m.name); err != nil {
				return fmt.Errorf("recording migration %d: %w", i+1, err)
			}
		}
		return nil
	})
}
