#!/usr/bin/env bash
# Runs the cross-client compatibility checks (shared/compat/run.sh: kcat, KafkaJS, franz-go,
# franz-go's kgo suite) against a fresh bin/strata, and stops the broker whatever happens.
#
#   scripts/compat.sh COMPAT_DIR [CHECK...]          (make compat builds bin/strata first)
#
# The broker listens on a free loopback port (--ready-file tells which) with a new temporary
# data directory, and on a second one with SASL (SASL_PLAINTEXT, user compat, for the kgo
# suite's SCRAM tests: KGO_TEST_SCRAM, KGO_TEST_SCRAM_SEEDS). The exit status is run.sh's. The broker's log is kept in
# $LOGDIR/strata.log (LOGDIR defaults to a new temporary directory, shared with run.sh).
set -uo pipefail

COMPAT_DIR=${1:?usage: scripts/compat.sh COMPAT_DIR [CHECK...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STRATA_BIN:-$ROOT/bin/strata}
[ -x "$BIN" ] || { echo "compat: $BIN not built (run make build)" >&2; exit 1; }
[ -x "$COMPAT_DIR/run.sh" ] || { echo "compat: no run.sh in $COMPAT_DIR" >&2; exit 1; }
COMPAT_DIR=$(cd "$COMPAT_DIR" && pwd)

export LOGDIR=${LOGDIR:-$(mktemp -d -t strata-compat.XXXXXX)}
# franz-go's whole suite, transactions included (TestTxnEtl): about 70 s on 2 cores.
export PROFILE=${PROFILE:-full}
mkdir -p "$LOGDIR"
DATA=$(mktemp -d -t strata-compat-data.XXXXXX)
READY="$LOGDIR/strata.addr"
PID=

# run.sh builds into and installs under its own directory; a read-only copy (as shared/ may
# be) is copied to a writable place first.
if [ ! -w "$COMPAT_DIR" ]; then
	cp -r "$COMPAT_DIR" "$LOGDIR/compat" && chmod -R u+w "$LOGDIR/compat" && COMPAT_DIR="$LOGDIR/compat"
fi

cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null
	fi
	rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

STRATA_BOOTSTRAP_USER=compat:compat-secret "$BIN" serve --http off --ready-file "$READY" --data-dir "$DATA" \
	--set listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
	--set group.initial.rebalance.delay.ms=0 --set group.coordinator.rebalance.protocols=classic,consumer --log-level info >"$LOGDIR/strata.log" 2>&1 &
PID=$!

for _ in $(seq 1 300); do
	[ -s "$READY" ] && break
	kill -0 "$PID" 2>/dev/null || { echo "compat: broker exited at start:" >&2; tail -20 "$LOGDIR/strata.log" >&2; exit 1; }
	sleep 0.1
done
[ -s "$READY" ] || { echo "compat: broker not ready after 30 s" >&2; exit 1; }
ADDR=$(head -n1 "$READY")
SASL=$(grep -o 'SASL_PLAINTEXT://[0-9.:]*' "$LOGDIR/strata.log" | head -n1 | sed 's|SASL_PLAINTEXT://||')
echo "compat: strata $ADDR (SASL_PLAINTEXT $SASL), broker log $LOGDIR/strata.log"

BROKER=$ADDR KGO_TEST_SCRAM=${KGO_TEST_SCRAM:-compat:compat-secret:512} KGO_TEST_SCRAM_SEEDS=${KGO_TEST_SCRAM_SEEDS:-$SASL} \
	"$COMPAT_DIR/run.sh" "$@"
STATUS=$?
kill -0 "$PID" 2>/dev/null || echo "compat: the broker died during the run (see $LOGDIR/strata.log)" >&2
exit $STATUS
