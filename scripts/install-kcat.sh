#!/usr/bin/env bash
# Installs kcat (Debian package) when it is not on PATH: as root, or through sudo without a
# password prompt. It runs apt-get update only if the first install attempt fails.
set -uo pipefail
command -v kcat >/dev/null 2>&1 && exit 0

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "install-kcat: need root (or sudo without a password) to run: $*" >&2
		return 1
	fi
}

command -v apt-get >/dev/null 2>&1 || {
	echo "install-kcat: kcat is missing and there is no apt-get; install kcat by hand" >&2
	exit 1
}
echo "installing kcat with apt-get"
export DEBIAN_FRONTEND=noninteractive
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat ||
	{ as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat; } || {
	echo "install-kcat: apt-get install kcat failed" >&2
	exit 1
}
command -v kcat >/dev/null 2>&1
