#!/usr/bin/env bash
# Installs Debian packages for the tests when a check fails:
#   install-debs.sh [--with-recommends] 'CHECK COMMAND' PACKAGE...
# CHECK COMMAND (run by sh) tells whether they are there already. Installs as root, or
# through sudo without a password prompt; runs apt-get update only if the first attempt
# fails. Recommended packages are left out unless --with-recommends. Used by make test
# (the Makefile's kcat, chromium and legacy-clients targets).
set -uo pipefail
recommends=--no-install-recommends
if [ "${1:-}" = --with-recommends ]; then
	recommends=
	shift
fi
check=$1
shift
sh -c "$check" >/dev/null 2>&1 && exit 0

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "install-debs: need root (or sudo without a password) to run: $*" >&2
		return 1
	fi
}

command -v apt-get >/dev/null 2>&1 || {
	echo "install-debs: $* missing and there is no apt-get; install them by hand" >&2
	exit 1
}
echo "installing $* with apt-get"
install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $recommends "$@"; }
install "$@" || { as_root apt-get update -q && install "$@"; } || {
	echo "install-debs: apt-get install $* failed" >&2
	exit 1
}
sh -c "$check"
