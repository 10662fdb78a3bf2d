#!/usr/bin/env bash
# install-deb.sh COMMAND PACKAGE: installs a Debian package when COMMAND is not on PATH: as
# root, or through sudo without a password prompt. It runs apt-get update only if the first
# install attempt fails.
set -uo pipefail
cmd=$1 pkg=$2
command -v "$cmd" >/dev/null 2>&1 && exit 0

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "install-deb: need root (or sudo without a password) to run: $*" >&2
		return 1
	fi
}

command -v apt-get >/dev/null 2>&1 || {
	echo "install-deb: $cmd is missing and there is no apt-get; install $pkg by hand" >&2
	exit 1
}
echo "installing $pkg with apt-get"
export DEBIAN_FRONTEND=noninteractive
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" ||
	{ as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg"; } || {
	echo "install-deb: apt-get install $pkg failed" >&2
	exit 1
}
command -v "$cmd" >/dev/null 2>&1
