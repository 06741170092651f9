package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// killable is a backend process (bench/backend -announce) serving one
// declared target, killed with SIGKILL and started again during the soak.
type killable struct {
	bin  string
	port int

	mu    sync.Mutex
	cmd   *exec.Cmd
	first chan time.Time // the first request of the current process
}

func startKillable(bin string, port int) (*killable, error) {
	k := &killable{bin: bin, port: port}
	return k, k.start()
}

// start runs the backend and waits until it listens.
func (k *killable) start() error {
	cmd := exec.Command(k.bin, "-base", strconv.Itoa(k.port), "-n", "1", "-announce")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the driver
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	first := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) > 0 && f[0] == "ready":
				close(ready)
			case len(f) == 3 && f[0] == "first":
				if ns, err := strconv.ParseInt(f[2], 10, 64); err == nil {
					first <- time.Unix(0, ns)
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("backend on port %d did not start", k.port)
	}
	k.mu.Lock()
	k.cmd, k.first = cmd, first
	k.mu.Unlock()
	return nil
}

// kill sends SIGKILL and reaps the process.
func (k *killable) kill() {
	k.mu.Lock()
	cmd := k.cmd
	k.cmd = nil
	k.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// firstRequest waits up to timeout for the current process's first request.
func (k *killable) firstRequest(timeout time.Duration) (time.Time, bool) {
	k.mu.Lock()
	first := k.first
	k.mu.Unlock()
	select {
	case t := <-first:
		return t, true
	case <-time.After(timeout):
		return time.Time{}, false
	}
}
