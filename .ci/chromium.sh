#!/usr/bin/env bash
# Headless Chromium for the browser test of the manager page
# (manager/browser_test.go).
#
# Sourced (by scripts/test.sh, which .ci/run calls), it defines:
#   chromium_install  installs Debian's chromium package with apt-get unless
#                     chromium is already on PATH (fast no-op then)
# Run directly: bash .ci/chromium.sh install
#
# The test skips without chromium, except with CI=true, where it fails.

_chromium_log() { echo "chromium.sh: $*" >&2; }

chromium_install() {
	if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		_chromium_log "chromium is not installed and installing it needs root: apt-get install chromium (the browser test skips without it)"
		return 0
	fi
	_chromium_log "installing Chromium from Debian's packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends chromium >/dev/null
	command -v chromium >/dev/null 2>&1 || {
		_chromium_log "apt-get installed chromium but it is not on PATH"
		return 1
	}
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	case "${1:-}" in
	install) chromium_install ;;
	*)
		echo "usage: bash .ci/chromium.sh install" >&2
		exit 2
		;;
	esac
fi
