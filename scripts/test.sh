#!/usr/bin/env bash
# Runs every test of the project, as CI does: builds (once, cached) the
# Kubernetes control plane the Kubernetes tests start, installs and starts a
# throwaway PostgreSQL on 127.0.0.1 when the tests need one, runs go vet
# and the whole test suite with the race detector, then stops PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
# kwok for internal/testk8s: ~12 min on a free 2-core machine the first
# time, a no-op once cached. Without them the Kubernetes tests skip, except
# under CI=true, where they fail.
if ! bash scripts/k8s-binaries.sh >/dev/null; then
	if [[ "${CI:-}" == true ]]; then
		echo "test.sh: building the Kubernetes control plane failed" >&2
		exit 1
	fi
	echo "test.sh: building the Kubernetes control plane failed; the Kubernetes tests will skip" >&2
fi

if [[ -f .ci/postgres.sh ]]; then
	# shellcheck source=/dev/null
	source .ci/postgres.sh
	pg_install
	pg_start
	trap pg_stop EXIT
fi

go vet ./...
go test -race -count=1 -timeout 20m ./... 2>&1 | tee /tmp/caddy-upstreams-test.log
