#!/usr/bin/env bash
# Installs kcat (Debian package) when it is not on PATH (see install-deb.sh).
exec "$(dirname "$0")/install-deb.sh" kcat kcat
