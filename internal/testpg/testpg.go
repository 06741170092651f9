// Package testpg gives tests a PostgreSQL: the shared test database named
// by UPSTREAMS_TEST_PG_DSN (see .ci/postgres.sh), or a private server a
// test starts, stops and restarts for itself. Without PostgreSQL the tests
// skip, except under CI=true, where they fail: CI must never skip silently.
package testpg

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// DSN returns the DSN of the shared test database, or skips the test (fails
// it in CI) when UPSTREAMS_TEST_PG_DSN is not set.
func DSN(t testing.TB) string {
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

// UniquePrefix returns a fresh table prefix, so tests share one database
// without seeing each other's tables.
func UniquePrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b) + "_"
}

// Server is a PostgreSQL server a test starts for itself, so that it may
// stop and restart it without disturbing anything else.
type Server struct {
	bin, dir string
	port     int
	asRoot   bool
}

// StartServer starts a private PostgreSQL server on 127.0.0.1 (a free
// port, data in a temporary directory, removed with the server when the
// test ends), or skips the test (fails it in CI) when the server binaries
// are not available.
func StartServer(t testing.TB) *Server {
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
	srv := &Server{bin: bin, asRoot: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "pgstore-test-")
	if err != nil {
		t.Fatal(err)
	}
	srv.dir = dir
	t.Cleanup(func() {
		srv.ctl("stop", "-m", "immediate")
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
	srv.Start(t)
	return srv
}

func versionOf(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// DSN is the server's DSN (database postgres, user postgres, trust
// authentication, a 2 s connect timeout).
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", s.port)
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	if s.asRoot {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func (s *Server) ctl(args ...string) error {
	args = append([]string{"-D", s.data(), "-w", "-t", "60"}, args...)
	out, err := s.command(filepath.Join(s.bin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, out)
	}
	return nil
}

// Start starts the server (again), on the same port and data.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", s.port, s.dir)
	if err := s.ctl("-l", filepath.Join(s.dir, "server.log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		t.Fatalf("%v\nserver log:\n%s", err, log)
	}
}

// Stop stops the server (fast shutdown: open connections are closed).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.ctl("-m", "fast", "stop"); err != nil {
		t.Fatal(err)
	}
}
