package testk8s

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
)

// PodCIDR is the pod range kwok assigns pod IPs from. Inside the test's
// network namespace it is a local range on lo: a process of the test can
// listen on any pod IP.
const PodCIDR = "10.244.0.0/24"

// insideEnv marks the test binary re-executed inside its private network
// namespace.
const insideEnv = "TESTK8S_INSIDE_NETNS"

// unavailable is why no plane can run in this process ("" inside a ready
// namespace); Start skips (or fails, under CI) with it.
var unavailable = "testk8s.Main was not called from TestMain"

// Main is a TestMain body for packages that start the plane; it returns the
// exit code. Unless already inside, it re-runs the test binary (same
// arguments) inside a private network namespace where lo is up and carries
// 127.0.0.1 and PodCIDR, so the API server accepts pod IPs as endpoint
// addresses and no packet can leave, and returns the child's exit code.
// Inside, it runs the tests and then stops the plane (if a test started
// it) by PID. When the namespace cannot be made (not root and no user
// namespaces, no `ip` command) or the binaries are missing, the tests run
// here and Start skips with the reason (fails under CI=true).
func Main(m *testing.M) int {
	if os.Getenv(insideEnv) != "" {
		if err := setUpLoopback(); err != nil {
			unavailable = "setting up lo in the network namespace: " + err.Error()
		} else {
			unavailable = ""
		}
		code := m.Run()
		stopPlane()
		return code
	}
	if reason := missingBinaries(); reason != "" {
		unavailable = reason
		return m.Run()
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unavailable = "the ip command (iproute2) is needed to set up the network namespace"
		return m.Run()
	}
	code, err := runInNamespace()
	if err != nil {
		unavailable = "cannot make a private network namespace (needs root or user namespaces): " + err.Error()
		return m.Run()
	}
	return code
}

// runInNamespace re-executes the test binary in a new network namespace
// (as `unshare --net` does; with a user namespace too when not root), with
// the same arguments, standard streams and environment, and returns its
// exit code. Interrupts are passed on; the child is killed if this process
// dies.
func runInNamespace() (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), insideEnv+"=1")
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		for s := range signals {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() < 0 {
			return 1, nil // killed by a signal
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// setUpLoopback brings lo up in the namespace and adds PodCIDR to it: on
// lo, every address of the range is local.
func setUpLoopback() error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", PodCIDR, "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	return nil
}
