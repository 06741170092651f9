package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// classify wraps err with upstreams.ErrUnavailable when it means the
// database could not be reached or stopped answering. Errors caused by
// the caller's own ctx ending are returned as they are.
func classify(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	if isUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", upstreams.ErrUnavailable, err)
	}
	return err
}

// isUnavailable reports whether err comes from the connection rather than
// from the statement: connecting failed, the connection broke, timed out,
// or the server said it is shutting down, starting, full or read-only.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, pgconn.ErrConnClosed),
		pgconn.Timeout(err),
		pgconn.SafeToRetry(err):
		return true
	}
	// pgx reports some broken connections by message only.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}

// unavailableState reports whether a SQLSTATE means "try another time"
// rather than "this statement is wrong".
func unavailableState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case code == "57P01", // admin_shutdown
		code == "57P02", // crash_shutdown
		code == "57P03", // cannot_connect_now (starting up, recovering)
		code == "53300", // too_many_connections
		code == "25006": // read_only_sql_transaction (a standby)
		return true
	}
	return false
}

// isUniqueViolation reports whether err is SQLSTATE 23505.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
