// Package pgstore is a PostgreSQL store for the upstreams registry, for
// several Caddy nodes sharing one registry. Writes are transactions;
// unique keys are enforced by a unique index; every write bumps a store
// version and sends a NOTIFY, so other nodes reload within moments, and a
// periodic resync repairs anything a node missed.
//
// JSON:
//
//	"store": {"module": "postgres", "dsn": "{env.PG_DSN}", "resync_interval": "30s"}
//
// Caddyfile (inside the upstreams global option):
//
//	store postgres <dsn> {
//		resync_interval 30s
//		table_prefix    myapp_
//	}
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func init() {
	caddy.RegisterModule(Store{})
}

// DefaultResyncInterval is how often Subscribe asks for a full reload when
// no resync_interval is configured.
const DefaultResyncInterval = 30 * time.Second

const (
	// defaultConnectTimeout bounds each connection attempt when the DSN
	// sets no connect_timeout, so a down database fails fast.
	defaultConnectTimeout = 5 * time.Second
	// openTimeout bounds connecting and migrating in Open.
	openTimeout = 15 * time.Second
	// opTimeout bounds one Load or Apply, so a database that stops
	// answering (rather than refusing) does not hang a request forever.
	opTimeout = 15 * time.Second
	// applyAttempts is how many times Apply tries a batch whose
	// transaction failed for want of a connection before it committed.
	applyAttempts = 3
)

// prefixRE is what table_prefix may be: it is spliced into SQL unquoted.
var prefixRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,29}$`)

// Store keeps registry records in PostgreSQL. It implements
// upstreams.Store, upstreams.ChangeNotifier and upstreams.HealthBroadcaster
// (manual health marks travel as NOTIFYs on the change channel).
//
// Tables (with the optional prefix): upstreams_records (one row per
// record; primary key (kind, id); a unique index on (kind, key) where key
// is not empty; a version column), upstreams_state (the store version,
// bumped by every Apply) and upstreams_schema_migrations.
type Store struct {
	// DSN is the connection string, as a URL
	// (postgres://user:pass@host:5432/db?sslmode=disable) or in
	// key=value form. Caddy placeholders such as {env.PG_DSN} are
	// replaced. Pool settings (pool_max_conns, ...) and connect_timeout
	// (default 5 s) may be given in it.
	DSN string `json:"dsn,omitempty"`

	// ResyncInterval is how often subscribers reload everything even
	// without a notification, repairing anything missed. Default: 30s.
	ResyncInterval caddy.Duration `json:"resync_interval,omitempty"`

	// TablePrefix is prepended to the table names and to the NOTIFY
	// channel, so several registries can share one database. Lower-case
	// letters, digits and underscores; at most 30 characters.
	TablePrefix string `json:"table_prefix,omitempty"`

	pool   *pgxpool.Pool
	names  names
	node   string
	own    *ownWrites // versions this store is committing or committed
	logger *zap.Logger
	life   *lifecycle // set by Open
}

// lifecycle lets Close stop subscriptions and wait for them.
type lifecycle struct {
	once    sync.Once
	closing chan struct{} // closed by Close
	mu      sync.Mutex    // guards closed and subs.Add
	closed  bool
	subs    sync.WaitGroup
	running dispatchers // of the running subscriptions
}

// CaddyModule returns the Caddy module information.
func (Store) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "upstreams.stores.postgres",
		New: func() caddy.Module { return new(Store) },
	}
}

// Provision replaces placeholders in the DSN, connects, and creates or
// migrates the schema. A database that cannot be reached within a few
// seconds makes it fail with an error wrapping upstreams.ErrUnavailable.
func (s *Store) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	return s.open(ctx, caddy.NewReplacer().ReplaceAll(s.DSN, ""))
}

// Open connects and migrates the schema using the Store's fields as they
// are (no placeholder replacement); Provision calls it. It is for using the
// store outside Caddy, as the tests do.
func (s *Store) Open(ctx context.Context) error {
	return s.open(ctx, s.DSN)
}

func (s *Store) open(ctx context.Context, dsn string) error {
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if dsn == "" {
		if s.DSN != "" {
			return fmt.Errorf("postgres store: the dsn %q is empty once its placeholders are replaced", s.DSN)
		}
		return errors.New("postgres store: a dsn is required")
	}
	if s.TablePrefix != "" && !prefixRE.MatchString(s.TablePrefix) {
		return fmt.Errorf("postgres store: table_prefix %q must match %s", s.TablePrefix, prefixRE)
	}
	if s.ResyncInterval < 0 {
		return fmt.Errorf("postgres store: resync_interval must not be negative")
	}
	if s.ResyncInterval == 0 {
		s.ResyncInterval = caddy.Duration(DefaultResyncInterval)
	}
	cfg, err := pgxpool.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return fmt.Errorf("postgres store: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "caddy-upstreams"
	}
	s.names = newNames(s.TablePrefix)
	s.node = uuid.NewString()
	s.own = &ownWrites{versions: map[int64]struct{}{}}

	pool, err := pgxpool.NewWithConfig(ctx, cfg) // connects lazily
	if err != nil {
		return fmt.Errorf("postgres store %s: %w", describe(cfg), err)
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := migrate(octx, pool, s.names); err != nil {
		pool.Close()
		return fmt.Errorf("postgres store %s: %w", describe(cfg), classify(ctx, err))
	}
	s.pool = pool
	s.life = &lifecycle{closing: make(chan struct{})}
	s.logger.Debug("postgres store ready", zap.String("database", describe(cfg)),
		zap.String("node", s.node), zap.String("table_prefix", s.TablePrefix))
	return nil
}

// describe names the database for messages, without the password.
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Name names the kind of store, for the Admin API.
func (s *Store) Name() string { return "postgres" }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.pool.Ping(ctx); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// usable returns an error wrapping upstreams.ErrUnavailable if the store
// is not open.
func (s *Store) usable() error {
	if s.life == nil {
		return fmt.Errorf("postgres store is not open: %w", upstreams.ErrUnavailable)
	}
	select {
	case <-s.life.closing:
		return fmt.Errorf("postgres store is closed: %w", upstreams.ErrUnavailable)
	default:
		return nil
	}
}

// Load returns every record, from one snapshot of the table.
func (s *Store) Load(ctx context.Context) ([]upstreams.Record, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	var out []upstreams.Record
	err := s.retry(ctx, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, s.names.sql(`SELECT kind, id, parent, key, data FROM {records} ORDER BY kind, id`))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (upstreams.Record, error) {
			var r upstreams.Record
			var data []byte
			err := row.Scan(&r.Kind, &r.ID, &r.Parent, &r.Key, &data)
			r.Data = data
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("loading records: %w", classify(ctx, err))
	}
	return out, nil
}

// retry runs op, bounded by opTimeout, up to applyAttempts times while it
// fails fast for want of a connection. op must be safe to repeat.
func (s *Store) retry(ctx context.Context, op func(context.Context) error) error {
	var err error
	for attempt := range applyAttempts {
		if attempt > 0 && !pause(ctx, time.Duration(attempt)*100*time.Millisecond) {
			return err
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		err = op(octx)
		timedOut := octx.Err() != nil
		cancel()
		if err == nil || timedOut || !isUnavailable(err) {
			return err
		}
	}
	return err
}

// pause waits d unless ctx is done first; it reports whether it waited.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Apply writes a batch in one transaction: it bumps the store version,
// deletes (with descendants), then upserts, then queues a NOTIFY that
// PostgreSQL delivers on commit. A key already taken gives a
// *upstreams.ConflictError; a database out of reach gives an error
// wrapping upstreams.ErrUnavailable. A transaction that failed for want of
// a connection before COMMIT was sent is retried (it cannot have been
// applied); a failure of the COMMIT itself is reported, not retried, since
// the batch may or may not have been applied.
func (s *Store) Apply(ctx context.Context, b upstreams.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.usable(); err != nil {
		return err
	}
	if len(b.Put) == 0 && len(b.Delete) == 0 {
		return nil
	}
	var committing bool
	err := s.retry(ctx, func(ctx context.Context) error {
		var err error
		committing, err = s.applyOnce(ctx, b)
		if committing && err != nil {
			return outcomeUnknown{err}
		}
		return err
	})
	var ce *upstreams.ConflictError
	var ou outcomeUnknown
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.As(err, &ou):
		return fmt.Errorf("committing batch (it may or may not have been applied): %w", classify(ctx, ou.err))
	default:
		return fmt.Errorf("applying batch: %w", classify(ctx, err))
	}
}

// outcomeUnknown marks a failed COMMIT. It does not unwrap, so that
// retry, seeing no connection error, does not try the batch again.
type outcomeUnknown struct{ err error }

func (e outcomeUnknown) Error() string { return e.err.Error() }

// applyOnce runs one transaction. committing reports whether COMMIT was
// sent (and err is its outcome).
func (s *Store) applyOnce(ctx context.Context, b upstreams.Batch) (committing bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	var version int64
	if err := tx.QueryRow(ctx, s.names.sql(`UPDATE {state} SET version = version + 1 RETURNING version`)).Scan(&version); err != nil {
		return false, err
	}
	payload, err := json.Marshal(notification{Version: version, Node: s.node})
	if err != nil {
		return false, err
	}
	batch := &pgx.Batch{}
	for _, ref := range b.Delete {
		batch.Queue(s.names.sql(deleteSQL), ref.Kind, ref.ID)
	}
	for _, rec := range b.Put {
		data := string(rec.Data)
		if len(rec.Data) == 0 {
			data = "null"
		}
		batch.Queue(s.names.sql(upsertSQL), rec.Kind, rec.ID, rec.Parent, rec.Key, data, version)
	}
	batch.Queue(`SELECT pg_notify($1, $2)`, s.names.channel, string(payload))

	results := tx.SendBatch(ctx, batch)
	for i := range batch.Len() {
		if _, err := results.Exec(); err != nil {
			results.Close()
			if j := i - len(b.Delete); j >= 0 && j < len(b.Put) && isUniqueViolation(err) {
				return false, &upstreams.ConflictError{Kind: b.Put[j].Kind, Key: b.Put[j].Key}
			}
			return false, err
		}
	}
	if err := results.Close(); err != nil {
		return false, err
	}
	// Remembered before COMMIT, so that its notification, which may
	// arrive before Commit returns, is recognised.
	s.own.add(version)
	if err := tx.Commit(ctx); err != nil {
		// It may have been applied after all: have the subscribers reload.
		s.own.forget(version)
		s.life.running.changed(0)
		return true, err
	}
	return true, nil
}

// deleteSQL deletes a record and, recursively, the records whose parent
// it is (whatever their kind). UNION, not UNION ALL, stops at cycles.
const deleteSQL = `WITH RECURSIVE doomed(kind, id) AS (
	SELECT kind, id FROM {records} WHERE kind = $1 AND id = $2
	UNION
	SELECT r.kind, r.id FROM {records} r JOIN doomed d ON r.parent = d.id AND r.parent <> ''
)
DELETE FROM {records} r USING doomed d WHERE r.kind = d.kind AND r.id = d.id`

// upsertSQL writes one record. The unique index on (kind, key) is checked
// row by row, so a batch may rename a key and then reuse the old one.
const upsertSQL = `INSERT INTO {records} (kind, id, parent, key, data, version, updated_at)
VALUES ($1, $2, $3, $4, $5::json, $6, now())
ON CONFLICT (kind, id) DO UPDATE SET parent = EXCLUDED.parent, key = EXCLUDED.key,
	data = EXCLUDED.data, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`

// Close stops subscriptions and closes the connection pool. It is safe to
// call more than once.
func (s *Store) Close() error {
	l := s.life
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.closing)
		l.mu.Unlock()
		l.subs.Wait()
		s.pool.Close()
	})
	return nil
}

// Cleanup closes the store when Caddy unloads the module.
func (s *Store) Cleanup() error { return s.Close() }

// names holds the identifiers derived from the table prefix.
type names struct {
	prefix, records, state, migrations, channel string
	// lockKey is the pg_advisory_xact_lock key serializing migrations.
	lockKey int64
	repl    *strings.Replacer
}

func newNames(prefix string) names {
	h := fnv.New64a()
	h.Write([]byte("caddy-upstreams migrations " + prefix))
	n := names{
		prefix:     prefix,
		records:    prefix + "upstreams_records",
		state:      prefix + "upstreams_state",
		migrations: prefix + "upstreams_schema_migrations",
		channel:    prefix + "upstreams_changes",
		lockKey:    int64(h.Sum64()),
	}
	n.repl = strings.NewReplacer("{records}", n.records, "{state}", n.state,
		"{migrations}", n.migrations, "{prefix}", n.prefix)
	return n
}

// sql expands {records}, {state}, {migrations} and {prefix} in q.
func (n names) sql(q string) string {
	return n.repl.Replace(q)
}

// Interface guards
var (
	_ upstreams.Store             = (*Store)(nil)
	_ upstreams.ChangeNotifier    = (*Store)(nil)
	_ upstreams.HealthBroadcaster = (*Store)(nil)
	_ caddy.Provisioner           = (*Store)(nil)
	_ caddy.CleanerUpper          = (*Store)(nil)
)
