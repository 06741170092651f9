package testk8s

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubectlTimeout bounds one kubectl command.
const kubectlTimeout = 60 * time.Second

// Kubectl runs the built kubectl (KubernetesVersion) with the admin
// kubeconfig and its cache in the plane's directory, and returns its
// standard output; it fails the test when kubectl fails.
func (p *Plane) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.kubectl("", args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// KubectlErr is Kubectl for commands that are meant to fail: it returns
// standard output and, when kubectl failed, an error with its standard
// error.
func (p *Plane) KubectlErr(args ...string) (string, error) {
	return p.kubectl("", args...)
}

// Apply runs `kubectl apply -f` on a manifest: a file or directory path, or
// inline YAML (anything with a newline).
func (p *Plane) Apply(t testing.TB, manifest string) string {
	t.Helper()
	if strings.Contains(manifest, "\n") {
		out, err := p.kubectl(manifest, "apply", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl apply of\n%s\n%v", manifest, err)
		}
		return out
	}
	return p.Kubectl(t, "apply", "-f", manifest)
}

// kubectl runs kubectl with stdin; the error carries its standard error.
func (p *Plane) kubectl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(BinDir(), "kubectl"), append([]string{"--kubeconfig", p.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(p.dir, "kubectl-cache"), "HOME="+p.dir)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &kubectlError{err: err, stderr: strings.TrimSpace(stderr.String())}
	}
	return stdout.String(), nil
}

// kubectlError is a failed kubectl command with what it printed on
// standard error.
type kubectlError struct {
	err    error
	stderr string
}

func (e *kubectlError) Error() string { return e.err.Error() + ": " + e.stderr }
