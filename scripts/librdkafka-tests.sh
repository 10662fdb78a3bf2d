#!/usr/bin/env bash
# librdkafka's own integration tests against a fresh three-node Strata cluster (issue 14;
# not in CI). SRC is a librdkafka source tree at the version Debian ships (v2.0.2, as
# kcat and python3-confluent-kafka: e.g. `git archive v2.0.2 | tar -x -C SRC` from a
# clone of confluentinc/librdkafka); it is built once (./configure, make libs, make -C
# tests build: about 6 min on 2 cores; gcc, g++, libssl-dev and zlib1g-dev needed).
# TESTS (default 0103,0129: transactions, fetching aborted messages) selects the tests,
# as librdkafka's test-runner takes them. The brokers run as librdkafka's own test
# clusters do (trivup's KafkaBrokerApp): auto-created topics get 3 partitions, and groups
# wait Kafka's default group.initial.rebalance.delay.ms (3 s) before their first
# rebalance; 0118-commit_rebalance relies on both (its two consumers join one rebalance
# and each gets a partition, though only one of them polls at a time). The nodes listen on free loopback ports, with
# a temporary data directory each, and are stopped at the end; the exit status is the
# test-runner's, whose log is $LOG (default a new temporary file).
#
# 0098-consumer-txn needs the tree configured with RapidJSON (Debian's rapidjson-dev;
# without it the test skips itself) and runs Kafka's Java TransactionProducerCli through
# tests/java/run-class.sh, which calls $KAFKA_PATH/bin/kafka-run-class.sh: KAFKA_PATH is a
# temporary directory whose kafka-run-class.sh runs scripts/txnproducercli (the Go
# stand-in, built here) for that class and fails for any other (0113's
# IncrementalRebalanceCli has none), and a javac first on the test-runner's PATH does
# nothing, so its `make java` (javac against Kafka's jars) passes without the jars.
#
#   scripts/librdkafka-tests.sh SRC [TESTS]     (make librdkafka-tests LIBRDKAFKA_SRC=SRC)
set -uo pipefail

SRC=$(cd "${1:?usage: scripts/librdkafka-tests.sh SRC [TESTS]}" && pwd)
TESTS=${2:-0103,0129}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${STRATA_BIN:-$ROOT/bin/strata}
LOG=${LOG:-$(mktemp -t strata-librdkafka.XXXXXX)}
[ -x "$BIN" ] || { echo "librdkafka-tests: $BIN not built (run make build)" >&2; exit 1; }
if [ ! -x "$SRC/tests/test-runner" ]; then
	echo "librdkafka-tests: building $SRC" >&2
	(cd "$SRC" && ./configure >/dev/null && make -j2 libs >/dev/null && make -j2 -C tests build >/dev/null) ||
		{ echo "librdkafka-tests: build failed" >&2; exit 1; }
fi

W=$(mktemp -d -t strata-librdkafka-cluster.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ",$TESTS," == *,0098,* ]] && ! grep -Eq '^WITH_RAPIDJSON=[[:space:]]*y' "$SRC/Makefile.config"; then
	echo "librdkafka-tests: $SRC is configured without RapidJSON and 0098 would skip itself:" \
		"install rapidjson-dev, then ./configure and make -C tests build there" >&2
	exit 1
fi
mkdir -p "$W/kafka/bin" "$W/bin"
(cd "$ROOT" && go build -o "$W/txnproducercli" ./scripts/txnproducercli) ||
	{ echo "librdkafka-tests: building scripts/txnproducercli failed" >&2; exit 1; }
{
	echo '#!/usr/bin/env bash'
	echo '# Kafka'"'"'s kafka-run-class.sh for librdkafka'"'"'s tests (scripts/librdkafka-tests.sh).'
	echo 'case "$1" in'
	echo "TransactionProducerCli) shift; exec '$W/txnproducercli' \"\$@\" ;;"
	echo '*) echo "kafka-run-class.sh: no stand-in for $1 (Kafka'"'"'s jars are not here)" >&2; exit 1 ;;'
	echo 'esac'
} >"$W/kafka/bin/kafka-run-class.sh"
printf '#!/bin/sh\n# Kafka'"'"'s jars are not here: its Java test programs are not compiled.\nexit 0\n' >"$W/bin/javac"
chmod +x "$W/kafka/bin/kafka-run-class.sh" "$W/bin/javac"

mapfile -t P < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])')
VOTERS="1@127.0.0.1:${P[3]},2@127.0.0.1:${P[4]},3@127.0.0.1:${P[5]}"
for n in 1 2 3; do
	"$BIN" serve --http off --listen "127.0.0.1:${P[$((n - 1))]}" --data-dir "$W/node-$n" --ready-file "$W/ready-$n" \
		--set node.id="$n" --set controller.quorum.voters="$VOTERS" --set num.partitions=3 \
		>"$W/strata-$n.log" 2>&1 &
	PIDS+=($!)
done
for n in 1 2 3; do
	for _ in $(seq 1 300); do [ -s "$W/ready-$n" ] && break; sleep 0.1; done
	[ -s "$W/ready-$n" ] || { echo "librdkafka-tests: node $n not ready" >&2; tail "$W/strata-$n.log" >&2; exit 1; }
done
echo "metadata.broker.list=127.0.0.1:${P[0]},127.0.0.1:${P[1]},127.0.0.1:${P[2]}" >"$W/test.conf"

cd "$SRC/tests" || exit 1
KAFKA_PATH="$W/kafka" PATH="$W/bin:$PATH" LD_LIBRARY_PATH="$SRC/src:$SRC/src-cpp" RDKAFKA_TEST_CONF="$W/test.conf" TEST_KAFKA_VERSION=3.6.0 TESTS=$TESTS \
	timeout 900 ./test-runner >"$LOG" 2>&1
rc=$?
sed 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E 'Test .* (PASSED|FAILED)|TEST FAILURE|failed at' | tail -20
echo "librdkafka-tests: $TESTS: exit $rc (log $LOG)"
exit $rc
