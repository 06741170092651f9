#!/usr/bin/env bash
# Builds the binaries of the real Kubernetes control plane the tests start
# (internal/testk8s): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and kwok, plus kwok's Stage definitions, from the Go
# module proxy. They land in a cache directory keyed by version and are built
# only when missing there, so a second run takes well under a second.
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/caddy-upstreams/k8s/<versions>/bin/
#   ${XDG_CACHE_HOME:-$HOME/.cache}/caddy-upstreams/k8s/<versions>/stages/
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging
# modules with local paths), so it is built from a scratch module that requires
# it and replaces every staging module with its published v0.X.Y version. The
# build happens in a temporary directory outside the repository; nothing of it
# is committed. Prints the bin directory on its last line.
#
# Environment: K8S_BINARIES_DIR overrides the cache directory (the tests read
# the same variable).
set -euo pipefail

KUBERNETES_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

key="${KUBERNETES_VERSION}-etcd${ETCD_VERSION#v}-kwok${KWOK_VERSION#v}"
root="${K8S_BINARIES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/caddy-upstreams/k8s/$key}"
bin="$root/bin"
stages="$root/stages"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

complete() {
	local name
	for name in "${binaries[@]}"; do
		[[ -x "$bin/$name" ]] || return 1
	done
	[[ -f "$stages/pod-complete.yaml" ]]
}

if complete; then
	echo "$bin"
	exit 0
fi

started=$(date +%s)
mkdir -p "$bin" "$stages"
work=$(mktemp -d "${TMPDIR:-/tmp}/caddy-upstreams-k8s-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

log() { echo "k8s-binaries: $* ($(($(date +%s) - started)) s)" >&2; }

# The staging modules k8s.io/kubernetes' go.mod replaces with ./staging/...
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
	cloud-provider cluster-bootstrap code-generator component-base component-helpers
	controller-manager cri-api cri-client cri-streaming csi-translation-lib
	dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
	kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
	mount-utils pod-security-admission sample-apiserver sample-cli-plugin
	sample-controller streaming)

build_kubernetes() {
	local dir="$work/kubernetes" name
	mkdir -p "$dir"
	{
		echo "module caddy-upstreams.local/k8sbuild"
		echo
		echo "go 1.25"
		echo
		echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
		echo
		for name in "${staging[@]}"; do
			echo "replace k8s.io/$name => k8s.io/$name $STAGING_VERSION"
		done
	} >"$dir/go.mod"
	cat >"$dir/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import (
			_ "k8s.io/kubernetes/cmd/kube-apiserver"
			_ "k8s.io/kubernetes/cmd/kube-controller-manager"
			_ "k8s.io/kubernetes/cmd/kube-scheduler"
			_ "k8s.io/kubernetes/cmd/kubectl"
		)
	EOF
	log "resolving k8s.io/kubernetes $KUBERNETES_VERSION"
	(cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true)
	(cd "$dir" && go get k8s.io/kubernetes@"$KUBERNETES_VERSION" >/dev/null)
	(cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true)
	local minor=${KUBERNETES_VERSION#v1.}
	minor=${minor%%.*}
	local ldflags="-s -w"
	local pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	for name in kubectl kube-scheduler kube-controller-manager kube-apiserver; do
		[[ -x "$bin/$name" ]] && continue
		log "building $name"
		(cd "$dir" && go build -tags tools -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name")
		mv "$bin/$name.tmp" "$bin/$name"
	done
}

build_etcd() {
	[[ -x "$bin/etcd" ]] && return 0
	local dir="$work/etcd"
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<-EOF
		module caddy-upstreams.local/etcdbuild

		go 1.25

		require go.etcd.io/etcd/server/v3 $ETCD_VERSION
	EOF
	cat >"$dir/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import _ "go.etcd.io/etcd/server/v3"
	EOF
	log "building etcd $ETCD_VERSION"
	(cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true)
	(cd "$dir" && go get go.etcd.io/etcd/server/v3@"$ETCD_VERSION" >/dev/null)
	(cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true)
	(cd "$dir" && go build -tags tools -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
	mv "$bin/etcd.tmp" "$bin/etcd"
}

build_kwok() {
	if [[ ! -x "$bin/kwok" ]]; then
		log "building kwok $KWOK_VERSION"
		GOBIN="$work/gobin" go install -trimpath \
			-ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
			sigs.k8s.io/kwok/cmd/kwok@"$KWOK_VERSION"
		mv "$work/gobin/kwok" "$bin/kwok"
	fi
	local module
	module=$(go mod download -json sigs.k8s.io/kwok@"$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	# kwok's Stages the tests use: a node becomes Ready at once and keeps
	# its lease; a Job's pod completes. The pods' start, ready and delete
	# Stages, with delays, are the tests' own (internal/testk8s/kwok.go).
	local file
	for file in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-complete.yaml; do
		cp "$module/kustomize/stage/$file" "$stages/"
	done
	chmod u+w "$stages"/*.yaml
}

build_etcd
build_kwok
build_kubernetes

complete || { echo "k8s-binaries: build incomplete in $bin" >&2; exit 1; }
log "done: $(du -sh "$root" | cut -f1) in $root"
echo "$bin"
