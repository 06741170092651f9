package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams/pgstore"
)

// recordsTable is the quoted name of a cluster's records table.
func (cl *cluster) recordsTable() string {
	return pgx.Identifier{pgstore.RecordsTable(cl.prefix)}.Sanitize()
}

// dbTargets lists the target strings stored in the database, sorted.
func (cl *cluster) dbTargets(t *testing.T) []string {
	t.Helper()
	rows, err := pgstore.SQLConn(t, cl.dsn).Query(context.Background(),
		fmt.Sprintf(`SELECT data->>'target' FROM %s WHERE kind = 'targets'`, cl.recordsTable()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got) // byte order, whatever the database's collation
	return got
}

// insertTarget writes a target straight into the records table, without
// the notification the store sends: a change the nodes miss.
func (cl *cluster) insertTarget(t *testing.T, upstreamID, target string) {
	t.Helper()
	now := float64(time.Now().UnixMilli()) / 1000
	id := uuid.NewString()
	data, err := json.Marshal(map[string]any{"id": id, "created_at": now, "updated_at": now,
		"upstream": map[string]any{"id": upstreamID}, "target": target, "weight": 100, "tags": nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.SQLConn(t, cl.dsn).Exec(context.Background(),
		fmt.Sprintf(`INSERT INTO %s (kind, id, parent, key, data, version) VALUES ('targets', $1, $2, $3, $4, 0)`, cl.recordsTable()),
		id, upstreamID, upstreamID+"|"+target, string(data)); err != nil {
		t.Fatal(err)
	}
}
