#!/usr/bin/env bash
# Installs kcat (Debian package) when it is not on PATH (see install-debs.sh).
exec "$(dirname "$0")/install-debs.sh" --with-recommends "command -v kcat" kcat
