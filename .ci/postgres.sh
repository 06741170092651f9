#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests of upstreams/pgstore.
#
# Sourced (by scripts/test.sh, which .ci/run calls), it defines:
#   pg_install  installs Debian's postgresql package with apt-get unless
#               initdb and pg_ctl are already there (fast no-op then)
#   pg_start    initdb's a data directory made with mktemp -d, starts the
#               server on 127.0.0.1 only (port 55432, or the next free one),
#               creates the test database and exports UPSTREAMS_TEST_PG_DSN
#               (and UPSTREAMS_TEST_PG_BIN, the server binaries' directory)
#   pg_stop     stops that server and removes its data directory
# All three are idempotent.
#
# Run directly:
#   eval "$(bash .ci/postgres.sh start)"   # prints the export lines
#   bash .ci/postgres.sh stop
#
# Settings (environment): PG_PORT (first port tried, default 55432).
# PostgreSQL refuses to run as root; as root the server runs as the
# "postgres" user that the Debian package creates.

_PG_DB=upstreams_test
_PG_SUPERUSER=postgres
_PG_PASSWORD=upstreams-test

_pg_log() { echo "postgres.sh: $*" >&2; }

# _pg_state_file names the file that remembers the running server, one per
# checkout, so `stop` in another shell finds what `start` started.
_pg_state_file() {
	local root sum
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	sum=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
	echo "${TMPDIR:-/tmp}/caddy-upstreams-pg.$sum.env"
}

# _pg_bindir prints the directory holding initdb and pg_ctl, newest
# version first; Debian keeps them out of PATH, in /usr/lib/postgresql/<ver>/bin.
_pg_bindir() {
	local d
	if [[ -n "${UPSTREAMS_PG_BINDIR:-}" && -x "${UPSTREAMS_PG_BINDIR}/initdb" ]]; then
		echo "$UPSTREAMS_PG_BINDIR"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return 0
	fi
	return 1
}

# _pg_os_user prints the account the server runs as.
_pg_os_user() {
	if [[ $(id -u) -eq 0 ]]; then
		echo postgres
	else
		id -un
	fi
}

# _pg_as runs a command as the server's account.
_pg_as() {
	local user
	user=$(_pg_os_user)
	if [[ $(id -u) -ne 0 ]]; then
		"$@"
	elif command -v runuser >/dev/null 2>&1; then
		runuser -u "$user" -- "$@"
	else
		su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
	fi
}

_pg_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_install() {
	if _pg_bindir >/dev/null; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		_pg_log "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
		return 1
	fi
	_pg_log "installing PostgreSQL from Debian's packages"
	# Do not let the package create and start a system-wide cluster: the
	# tests bring their own.
	mkdir -p /etc/postgresql-common
	if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		postgresql postgresql-client >/dev/null
	_pg_bindir >/dev/null || {
		_pg_log "apt-get installed postgresql but initdb/pg_ctl are not in /usr/lib/postgresql/*/bin"
		return 1
	}
}

# _pg_export exports the variables the tests read and prints them.
_pg_export() {
	export UPSTREAMS_TEST_PG_DSN="postgres://$_PG_SUPERUSER:$_PG_PASSWORD@127.0.0.1:$PG_RUNNING_PORT/$_PG_DB?sslmode=disable"
	export UPSTREAMS_TEST_PG_BIN="$PG_RUNNING_BIN"
}

_pg_print_exports() {
	# the values hold no single quotes
	printf "export UPSTREAMS_TEST_PG_DSN='%s'\n" "$UPSTREAMS_TEST_PG_DSN"
	printf "export UPSTREAMS_TEST_PG_BIN='%s'\n" "$UPSTREAMS_TEST_PG_BIN"
}

pg_start() {
	local state bin dir port pwfile
	state=$(_pg_state_file)
	if [[ -f "$state" ]]; then
		# shellcheck source=/dev/null
		source "$state"
		if [[ -n "${PG_RUNNING_DIR:-}" ]] && _pg_as "$PG_RUNNING_BIN/pg_ctl" -D "$PG_RUNNING_DIR/data" status >/dev/null 2>&1; then
			_pg_export
			_pg_log "already running on 127.0.0.1:$PG_RUNNING_PORT (data in $PG_RUNNING_DIR)"
			return 0
		fi
		pg_stop
	fi
	bin=$(_pg_bindir) || {
		_pg_log "initdb/pg_ctl not found; run pg_install first"
		return 1
	}
	port=${PG_PORT:-55432}
	while ! _pg_port_free "$port"; do
		port=$((port + 1))
		if ((port > ${PG_PORT:-55432} + 50)); then
			_pg_log "no free port near ${PG_PORT:-55432}"
			return 1
		fi
	done
	dir=$(mktemp -d "${TMPDIR:-/tmp}/caddy-upstreams-pg.XXXXXX")
	pwfile="$dir/pwfile"
	printf '%s\n' "$_PG_PASSWORD" >"$pwfile"
	if [[ $(id -u) -eq 0 ]]; then
		id "$(_pg_os_user)" >/dev/null 2>&1 || {
			_pg_log "no 'postgres' user to run the server as (PostgreSQL refuses to run as root)"
			rm -rf "$dir"
			return 1
		}
		chown -R "$(_pg_os_user)" "$dir"
	fi
	chmod 700 "$dir"
	# Remember the server before starting it, so pg_stop can clean up
	# after a failure half-way.
	cat >"$state" <<-EOF
		PG_RUNNING_DIR=$(printf '%q' "$dir")
		PG_RUNNING_BIN=$(printf '%q' "$bin")
		PG_RUNNING_PORT=$port
	EOF
	PG_RUNNING_DIR=$dir PG_RUNNING_BIN=$bin PG_RUNNING_PORT=$port
	if ! _pg_as "$bin/initdb" -D "$dir/data" -U "$_PG_SUPERUSER" --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
		_pg_log "initdb failed:"
		cat "$dir/initdb.log" >&2
		pg_stop
		return 1
	fi
	rm -f "$pwfile"
	# 127.0.0.1 only; the Unix socket lives in the throwaway directory;
	# fsync off because the data is thrown away.
	if ! _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null; then
		_pg_log "the server did not start:"
		cat "$dir/server.log" >&2
		pg_stop
		return 1
	fi
	if ! PGPASSWORD=$_PG_PASSWORD "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U "$_PG_SUPERUSER" -d postgres \
		-c "CREATE DATABASE $_PG_DB" >/dev/null; then
		_pg_log "creating database $_PG_DB failed"
		pg_stop
		return 1
	fi
	_pg_export
	_pg_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
}

pg_stop() {
	local state
	state=$(_pg_state_file)
	if [[ -f "$state" ]]; then
		# shellcheck source=/dev/null
		source "$state"
	fi
	if [[ -z "${PG_RUNNING_DIR:-}" ]]; then
		return 0
	fi
	if [[ -d "$PG_RUNNING_DIR/data" ]]; then
		_pg_as "$PG_RUNNING_BIN/pg_ctl" -D "$PG_RUNNING_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
	rm -rf "$PG_RUNNING_DIR"
	rm -f "$state"
	_pg_log "stopped and removed $PG_RUNNING_DIR"
	unset PG_RUNNING_DIR PG_RUNNING_BIN PG_RUNNING_PORT UPSTREAMS_TEST_PG_DSN UPSTREAMS_TEST_PG_BIN
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	case "${1:-}" in
	install) pg_install ;;
	start)
		pg_install
		pg_start
		_pg_print_exports
		;;
	stop) pg_stop ;;
	*)
		echo "usage: $0 install|start|stop   (start prints export lines: eval \"\$($0 start)\")" >&2
		exit 2
		;;
	esac
fi
