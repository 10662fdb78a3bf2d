#!/usr/bin/env bash
# Installs Chromium (Debian package chromium) for the console's browser tests (observe,
# TestConsole*) when it is not on PATH (see install-debs.sh).
exec "$(dirname "$0")/install-debs.sh" --with-recommends "command -v chromium" chromium
