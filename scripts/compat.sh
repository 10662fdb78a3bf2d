#!/usr/bin/env bash
# Runs the cross-client compatibility checks (shared/compat/run.sh: kcat, KafkaJS, franz-go,
# franz-go's kgo suite) against a fresh bin/strata, and stops the brokers whatever happens.
#
#   scripts/compat.sh COMPAT_DIR [CHECK...]          (make compat builds bin/strata first)
#   NODES=3 scripts/compat.sh COMPAT_DIR [CHECK...]  against a three-node cluster
#
# Each broker listens on a free loopback port (--ready-file tells which) with a new temporary
# data directory, and on a second one with SASL (SASL_PLAINTEXT, user compat, for the kgo
# suite's SCRAM tests: KGO_TEST_SCRAM, KGO_TEST_SCRAM_SEEDS). With NODES=3 the three are one
# cluster (node.id 1-3, controller.quorum.voters on three more free ports) and the checks
# get all three as seeds (BROKER, hence KGO_SEEDS), and the kgo suite creates its topics
# with replication factor 3 (KGO_TEST_RF=3; 1 on a single broker). On the cluster the
# suite's Test848RegexBrokerResolves is skipped (KGO_SKIP): its loop stops once it has
# records of as many topics as it wants, __consumer_offsets (which it also subscribes to,
# holding the other tests' commits) counted, so when that topic's records come before
# those of one of its two topics (another broker's fetch answer) it fails; one fetch
# answer brings them all from a single broker. The exit status is run.sh's. Broker N's log is kept in
# $LOGDIR/strata[-N].log (LOGDIR defaults to a new temporary directory, shared with run.sh).
# GROUP_PROTOCOLS sets group.coordinator.rebalance.protocols (default classic,consumer), e.g.
# classic,consumer,share for franz-go's share-group tests on a cluster (KGO_RUN='^TestShareGroup'; a single
# node serves share groups by default, strata.share.version=1; a cluster node only when listed, for now).
set -uo pipefail

COMPAT_DIR=${1:?usage: scripts/compat.sh COMPAT_DIR [CHECK...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STRATA_BIN:-$ROOT/bin/strata}
[ -x "$BIN" ] || { echo "compat: $BIN not built (run make build)" >&2; exit 1; }
[ -x "$COMPAT_DIR/run.sh" ] || { echo "compat: no run.sh in $COMPAT_DIR" >&2; exit 1; }
COMPAT_DIR=$(cd "$COMPAT_DIR" && pwd)

export LOGDIR=${LOGDIR:-$(mktemp -d -t strata-compat.XXXXXX)}
NODES=${NODES:-1}
[ "$NODES" = 1 ] || [ "$NODES" = 3 ] || { echo "compat: NODES must be 1 or 3" >&2; exit 1; }
# franz-go's whole suite, transactions included (TestTxnEtl): about 70 s on 2 cores.
export PROFILE=${PROFILE:-full}
mkdir -p "$LOGDIR"
DATA=$(mktemp -d -t strata-compat-data.XXXXXX)
PIDS=()

# run.sh builds into and installs under its own directory; a read-only copy (as shared/ may
# be) is copied to a writable place first.
if [ ! -w "$COMPAT_DIR" ]; then
	cp -r "$COMPAT_DIR" "$LOGDIR/compat" && chmod -R u+w "$LOGDIR/compat" && COMPAT_DIR="$LOGDIR/compat"
fi

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The log and ready file of broker n: strata.log for a single broker, strata-n.log in a
# cluster.
suffix() { [ "$NODES" = 1 ] && echo "" || echo "-$1"; }

CLUSTER_ARGS=()
if [ "$NODES" = 3 ]; then
	# Three free ports for the quorum (bound, then released for the brokers to bind).
	mapfile -t QPORTS < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])')
	VOTERS="1@127.0.0.1:${QPORTS[0]},2@127.0.0.1:${QPORTS[1]},3@127.0.0.1:${QPORTS[2]}"
fi

for n in $(seq 1 "$NODES"); do
	sfx=$(suffix "$n")
	[ "$NODES" = 3 ] && CLUSTER_ARGS=(--set node.id="$n" --set controller.quorum.voters="$VOTERS")
	mkdir -p "$DATA/node-$n"
	STRATA_BOOTSTRAP_USER=compat:compat-secret "$BIN" serve --http off --ready-file "$LOGDIR/strata$sfx.addr" --data-dir "$DATA/node-$n" \
		--set listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
		--set group.initial.rebalance.delay.ms=0 --set group.coordinator.rebalance.protocols="${GROUP_PROTOCOLS:-classic,consumer}" \
		--log-level info "${CLUSTER_ARGS[@]}" >"$LOGDIR/strata$sfx.log" 2>&1 &
	PIDS+=($!)
done

ADDRS=() SASLS=()
for n in $(seq 1 "$NODES"); do
	sfx=$(suffix "$n")
	pid=${PIDS[$((n - 1))]}
	for _ in $(seq 1 300); do
		[ -s "$LOGDIR/strata$sfx.addr" ] && break
		kill -0 "$pid" 2>/dev/null || { echo "compat: broker $n exited at start:" >&2; tail -20 "$LOGDIR/strata$sfx.log" >&2; exit 1; }
		sleep 0.1
	done
	[ -s "$LOGDIR/strata$sfx.addr" ] || { echo "compat: broker $n not ready after 30 s" >&2; exit 1; }
	ADDRS+=("$(head -n1 "$LOGDIR/strata$sfx.addr")")
	SASLS+=("$(grep -o 'SASL_PLAINTEXT://[0-9.:]*' "$LOGDIR/strata$sfx.log" | head -n1 | sed 's|SASL_PLAINTEXT://||')")
done
ADDR=$(IFS=,; echo "${ADDRS[*]}")
SASL=$(IFS=,; echo "${SASLS[*]}")
echo "compat: strata $ADDR (SASL_PLAINTEXT $SASL), $NODES node(s), broker logs $LOGDIR/strata*.log"

# The kgo clients log at info (about 2 MB a run), for the diagnosis below.
export KGO_LOG_LEVEL=${KGO_LOG_LEVEL:-info}
[ "$NODES" = 3 ] && export KGO_SKIP=${KGO_SKIP:-^Test848RegexBrokerResolves$}
KGO_TEST_RF=${KGO_TEST_RF:-$NODES} BROKER=$ADDR KGO_TEST_SCRAM=${KGO_TEST_SCRAM:-compat:compat-secret:512} KGO_TEST_SCRAM_SEEDS=${KGO_TEST_SCRAM_SEEDS:-$SASL} \
	"$COMPAT_DIR/run.sh" "$@"
STATUS=$?
# CI keeps only the end of what it printed: on a failure, the failing tests' own messages
# (kgo: t.Fatal/t.Error lines and the ETL consumers' sendErr lines, which go test -v puts
# before the --- FAIL summary that run.sh shows) and the brokers' last warnings come last.
if [ "$STATUS" != 0 ]; then
	if [ -s "$LOGDIR/kgo-test.log" ]; then
		echo "compat: kgo test messages (from $LOGDIR/kgo-test.log):"
		grep -aE '_test\.go:[0-9]+: |sendErr|^panic:|--- FAIL' "$LOGDIR/kgo-test.log" |
			grep -avE 'deleting (group|topic)|completed in|ensuring topic|skipping' | tail -n 20 | cut -c1-240 | sed 's/^/  /'
		# The clients' own account (KGO_LOG_LEVEL=info) of the groups whose consumers
		# failed: errors, fences, abandoned and lost partitions.
		for grp in $(grep -aoE 'sendErr group=[^:]+' "$LOGDIR/kgo-test.log" | cut -d= -f2 | sort -u | head -n 2); do
			echo "compat: kgo client log of group $grp:"
			grep -aF "group: $grp" "$LOGDIR/kgo-test.log" |
				grep -aiE 'err|abandon|lost: [^ ]|fenc|stale|unable|giving up|expired' | grep -av 'context canceled' | tail -n 15 | cut -c1-240 | sed 's/^/  /'
		done
	fi
	for n in $(seq 1 "$NODES"); do
		echo "compat: broker $n's last warnings:"
		grep -aE 'level=(WARN|ERROR)' "$LOGDIR/strata$(suffix "$n").log" | tail -n 8 | cut -c1-300 | sed 's/^/  /'
	done
fi
for n in $(seq 1 "$NODES"); do
	kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null || echo "compat: broker $n died during the run (see $LOGDIR/strata$(suffix "$n").log)" >&2
done
exit $STATUS
