package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testDSN returns the DSN of the test database. Without one, the test is
// skipped, except in CI, where it fails: CI must never skip silently.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("UPSTREAMS_TEST_PG_DSN")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("UPSTREAMS_TEST_PG_DSN is not set, and CI=true: CI must run the PostgreSQL tests (scripts/test.sh sources .ci/postgres.sh and calls pg_start)")
	}
	t.Skip(`UPSTREAMS_TEST_PG_DSN is not set; start a throwaway PostgreSQL with
	eval "$(bash .ci/postgres.sh start)"
then run the tests again, and stop it with: bash .ci/postgres.sh stop`)
	return ""
}

// withParam returns dsn with a URL query parameter or key=value setting added.
func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// uniquePrefix returns a fresh table prefix, so tests share one database
// without seeing each other's tables.
func uniquePrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b) + "_"
}

// openStore opens a store on dsn with prefix; it is closed, and its tables
// dropped (if drop), when the test ends.
func openStore(t *testing.T, dsn, prefix string, resync time.Duration) *Store {
	t.Helper()
	s := &Store{DSN: dsn, TablePrefix: prefix, ResyncInterval: durationOf(resync)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dropTablesAtEnd drops the tables of prefix when the test ends.
func dropTablesAtEnd(t *testing.T, dsn, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Logf("dropping test tables: %v", err)
			return
		}
		defer conn.Close(ctx)
		n := newNames(prefix)
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s, %s, %s", n.records, n.state, n.migrations)); err != nil {
			t.Logf("dropping test tables: %v", err)
		}
	})
}

// sqlConn opens a plain connection for inspecting the database.
func sqlConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// eventually polls cond every 20 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// server is a PostgreSQL server a test starts for itself, so that it may
// stop and restart it without disturbing anything else.
type server struct {
	bin, dir string
	port     int
	asRoot   bool
}

// startServer starts a private PostgreSQL server on 127.0.0.1, or skips
// the test (fails it in CI) when the server binaries are not available.
func startServer(t *testing.T) *server {
	t.Helper()
	unavailable := func(reason string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot start a private PostgreSQL server in CI: %s", reason)
		}
		t.Skipf("skipping: this test stops and restarts a PostgreSQL server of its own, and %s (run pg_install from .ci/postgres.sh, or set UPSTREAMS_TEST_PG_BIN)", reason)
	}
	bin := os.Getenv("UPSTREAMS_TEST_PG_BIN")
	if bin == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
		if len(dirs) > 0 {
			bin = dirs[0]
		}
	}
	if bin == "" {
		unavailable("no PostgreSQL server binaries were found in /usr/lib/postgresql/*/bin")
	}
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			unavailable(fmt.Sprintf("%s is missing from %s", b, bin))
		}
	}
	srv := &server{bin: bin, asRoot: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "pgstore-test-")
	if err != nil {
		t.Fatal(err)
	}
	srv.dir = dir
	t.Cleanup(func() {
		srv.ctl(t, "stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if srv.asRoot {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable("the tests run as root and there is no 'postgres' user to run the server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := srv.command(filepath.Join(bin, "initdb"), "-D", srv.data(), "-U", "postgres",
		"--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv.start(t)
	return srv
}

func versionOf(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func (s *server) data() string { return filepath.Join(s.dir, "data") }

// dsn is the server's DSN, naming the test in application_name.
func (s *server) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", s.port)
}

func (s *server) command(name string, args ...string) *exec.Cmd {
	if s.asRoot {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (s *server) ctl(t *testing.T, args ...string) error {
	t.Helper()
	args = append([]string{"-D", s.data(), "-w", "-t", "60"}, args...)
	out, err := s.command(filepath.Join(s.bin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, out)
	}
	return nil
}

func (s *server) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", s.port, s.dir)
	if err := s.ctl(t, "-l", filepath.Join(s.dir, "server.log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		t.Fatalf("%v\nserver log:\n%s", err, log)
	}
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.ctl(t, "-m", "fast", "stop"); err != nil {
		t.Fatal(err)
	}
}
