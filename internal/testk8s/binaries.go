package testk8s

import (
	"fmt"
	"os"
	"path/filepath"
)

// Versions of the control plane's binaries, as scripts/k8s-binaries.sh
// builds them. The script and this file must agree: they name the cache
// directory.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
	KwokVersion       = "v0.8.0"
)

// binariesDirEnv overrides the cache directory of the binaries (the build
// script reads the same variable).
const binariesDirEnv = "K8S_BINARIES_DIR"

// planeBinaries are the executables the plane runs.
var planeBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

// stageFiles are kwok's Stage definitions the build script copies next to
// the binaries and the harness uses; its pod start, ready and delete
// Stages are its own (see kwok.go).
var stageFiles = []string{"node-initialize.yaml", "node-heartbeat-with-lease.yaml", "pod-complete.yaml"}

// cacheRoot is the directory scripts/k8s-binaries.sh builds into:
// $K8S_BINARIES_DIR, or ${XDG_CACHE_HOME:-$HOME/.cache}/caddy-upstreams/k8s/<versions>.
func cacheRoot() string {
	if dir := os.Getenv(binariesDirEnv); dir != "" {
		return dir
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		base = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	key := KubernetesVersion + "-etcd" + EtcdVersion[1:] + "-kwok" + KwokVersion[1:]
	return filepath.Join(base, "caddy-upstreams", "k8s", key)
}

// BinDir is the directory holding the plane's executables.
func BinDir() string { return filepath.Join(cacheRoot(), "bin") }

// stagesDir holds kwok's Stage definitions.
func stagesDir() string { return filepath.Join(cacheRoot(), "stages") }

// missingBinaries says what is missing from the cache, or "" when the
// plane can run.
func missingBinaries() string {
	for _, name := range planeBinaries {
		if _, err := os.Stat(filepath.Join(BinDir(), name)); err != nil {
			return fmt.Sprintf("%s is missing in %s: run scripts/k8s-binaries.sh", name, BinDir())
		}
	}
	for _, name := range stageFiles {
		if _, err := os.Stat(filepath.Join(stagesDir(), name)); err != nil {
			return fmt.Sprintf("kwok Stage %s is missing in %s: run scripts/k8s-binaries.sh", name, stagesDir())
		}
	}
	return ""
}
