#!/usr/bin/env bash
# Runs every test of the project, as CI does: installs and starts a
# throwaway PostgreSQL on 127.0.0.1 when the tests need one, installs
# Debian's chromium for the manager page's browser test, runs go vet
# and the whole test suite with the race detector, then stops PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -f .ci/postgres.sh ]]; then
	# shellcheck source=/dev/null
	source .ci/postgres.sh
	pg_install
	pg_start
	trap pg_stop EXIT
fi

if [[ -f .ci/chromium.sh ]]; then
	# shellcheck source=/dev/null
	source .ci/chromium.sh
	chromium_install
fi

go vet ./...
go test -race -count=1 -timeout 20m ./... 2>&1 | tee /tmp/caddy-upstreams-test.log
