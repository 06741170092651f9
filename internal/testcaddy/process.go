package testcaddy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// childCaddyfileEnv names the Caddyfile a re-executed test binary runs
// instead of its tests (see Main and StartProcess).
const childCaddyfileEnv = "TESTCADDY_CHILD_CADDYFILE"

// runChildIfAsked runs `caddy run` on the Caddyfile named by
// childCaddyfileEnv and exits, when the variable is set: the test binary
// is then a Caddy node started by StartProcess. Its stdin is a pipe from
// the test: when the test process goes away, however abruptly, the pipe
// closes and the child exits too.
func runChildIfAsked() {
	path := os.Getenv(childCaddyfileEnv)
	if path == "" {
		return
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	os.Args = []string{"caddy", "run", "--config", path, "--adapter", "caddyfile"}
	caddycmd.Main() // exits
	os.Exit(0)
}

// Process is a Caddy node running in a child process: the test binary
// re-executed with the project's modules. Caddy keeps one running config
// per process, so a test that needs two nodes runs the second one this way.
type Process struct {
	*Caddy
	cmd    *exec.Cmd
	log    string        // the child's stdout and stderr
	exited chan struct{} // closed once the child is reaped
	err    error         // the child's exit status, set before exited closes
}

// processStartTimeout bounds how long a child takes to answer on its admin
// endpoint (the race detector makes start-up slow).
const processStartTimeout = 60 * time.Second

// StartProcess runs the instance's config (a Caddyfile template, see
// Expand) in a child process, with its own data and config directories,
// and waits until its admin endpoint answers. The package's TestMain must
// call Main. The child is stopped when the test ends; a data race it
// reports fails the test.
func (c *Caddy) StartProcess(t testing.TB, tmpl string, pairs ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(c.Expand(tmpl, pairs...)), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Caddy: c, log: filepath.Join(dir, "caddy.log"), exited: make(chan struct{})}
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), childCaddyfileEnv+"="+cfg,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// kept open until the child exits (Wait closes it): see runChildIfAsked
	if _, err := p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting a Caddy child process: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	p.waitReady(t)
	return p
}

// waitReady waits until the child's admin endpoint answers.
func (p *Process) waitReady(t testing.TB) {
	t.Helper()
	url := fmt.Sprintf("http://localhost:%d/config/", p.AdminPort)
	deadline := time.Now().Add(processStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("the Caddy child process exited during start-up (%v):\n%s", p.err, p.Log())
		default:
		}
		if resp, err := Client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the Caddy child process did not answer on its admin endpoint within %v:\n%s", processStartTimeout, p.Log())
}

// Log returns what the child has written so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop interrupts the child (Caddy stops gracefully on SIGINT), kills it
// if it has not exited within a few seconds, and fails the test if it
// reported a data race.
func (p *Process) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Logf("interrupting the Caddy child process: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	log := p.Log()
	if strings.Contains(log, "WARNING: DATA RACE") {
		t.Errorf("the Caddy child process reported a data race:\n%s", log)
	} else if t.Failed() {
		t.Logf("Caddy child process log (exit: %v):\n%s", p.err, log)
	}
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }
