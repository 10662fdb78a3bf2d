#!/usr/bin/env bash
# Installs Chromium (Debian package chromium) for the console's browser tests (observe,
# TestConsole*) when it is not on PATH (see install-deb.sh).
exec "$(dirname "$0")/install-deb.sh" chromium chromium
