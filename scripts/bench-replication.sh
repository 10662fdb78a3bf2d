#!/usr/bin/env bash
# Replication throughput through real processes (issue 14): three `strata serve` nodes of
# one cluster on loopback, a topic of replication factor 1 and one of 3 (3 partitions each,
# one leader per node), and ROUNDS alternating rounds of `strata bench produce` (acks=all,
# 1 KiB records, 3 producers, DURATION each) on each topic. Prints each round's JSON
# summary with, after it, what the round cost the three processes: CPU seconds (utime +
# stime of /proc/PID/stat) and the bytes of follower Fetch traffic (requests and responses,
# strata_kafka_*_bytes_total{api="Fetch"}: nothing else fetches during the rounds). Then
# the medians: RF 3 / RF 1 MB/s, replication bytes per produced byte (follower Fetch
# bytes per record value byte acknowledged: framing and batch headers included), CPU
# seconds per GiB produced and per GiB replicated (of follower Fetch bytes).
#
#   scripts/bench-replication.sh [BIN]      (make bench-replication; BIN default bin/strata)
#   ROUNDS=5 DURATION=10s scripts/bench-replication.sh
#   RATE=20000 scripts/bench-replication.sh  (records/s over the producers: ack latency at a fixed load)
#   SET="strata.replica.page.cache.keep=true" scripts/bench-replication.sh  (broker settings of every node)
#
# Everything runs on free ports and a temporary directory, removed at the end.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/bin/strata}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
RATE=${RATE:-0}
PROFILE=${PROFILE:-}
SETS=()
for kv in ${SET:-}; do SETS+=(--set "$kv"); done
[ -x "$BIN" ] || { echo "bench-replication: $BIN not built (run make build)" >&2; exit 1; }
WORK=$(mktemp -d -t strata-bench-repl.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mapfile -t PORTS < <(python3 -c 'import socket
ss = [socket.socket() for _ in range(9)]
for s in ss: s.bind(("127.0.0.1", 0))
for s in ss: print(s.getsockname()[1])')
VOTERS="1@127.0.0.1:${PORTS[3]},2@127.0.0.1:${PORTS[4]},3@127.0.0.1:${PORTS[5]}"
SEEDS="127.0.0.1:${PORTS[0]},127.0.0.1:${PORTS[1]},127.0.0.1:${PORTS[2]}"
for n in 1 2 3; do
	"$BIN" serve --listen "127.0.0.1:${PORTS[$((n - 1))]}" --http "127.0.0.1:${PORTS[$((n + 5))]}" \
		--data-dir "$WORK/node-$n" --ready-file "$WORK/ready-$n" \
		--set node.id="$n" --set controller.quorum.voters="$VOTERS" "${SETS[@]}" >"$WORK/strata-$n.log" 2>&1 &
	PIDS+=($!)
done
for n in 1 2 3; do
	for _ in $(seq 1 300); do [ -s "$WORK/ready-$n" ] && break; sleep 0.1; done
	[ -s "$WORK/ready-$n" ] || { echo "bench-replication: node $n not ready" >&2; tail "$WORK/strata-$n.log" >&2; exit 1; }
done
for rf in 1 3; do
	"$BIN" topic create "rf$rf" -b "$SEEDS" -p 3 -r "$rf" >/dev/null || exit 1
done
sleep 2 # the followers join the ISR

cpu() { # CPU seconds of the three processes
	local pid total=0
	for pid in "${PIDS[@]}"; do
		read -r -a f <"/proc/$pid/stat"
		total=$((total + f[13] + f[14]))
	done
	echo "scale=2; $total / $(getconf CLK_TCK)" | bc
}
bytes() { # sum over the nodes of metric $1 for api $2
	local n total=0 v
	for n in 1 2 3; do
		v=$(curl -s "http://127.0.0.1:${PORTS[$((n + 5))]}/metrics" | awk -v m="$1" -v a="api=\"$2\"" '$1 ~ "^"m"\\{" && index($1, a) { s += $2 } END { printf "%.0f", s }')
		total=$((total + v))
	done
	echo "$total"
}

OUT="$WORK/rounds.jsonl"
echo "three nodes ($SEEDS), $ROUNDS rounds of $DURATION per topic, acks=all, 1 KiB records, 3 producers" >&2
for r in $(seq 1 "$ROUNDS"); do
	for rf in 1 3; do
		c0=$(cpu)
		f0=$(($(bytes strata_kafka_request_bytes_total Fetch) + $(bytes strata_kafka_response_bytes_total Fetch)))
		PROFS=()
		if [ -n "$PROFILE" ]; then # CPU profiles of the three nodes over the round
			for n in 1 2 3; do
				curl -s -o "$PROFILE/cpu-r$r-rf$rf-node$n.pprof" \
					"http://127.0.0.1:${PORTS[$((n + 5))]}/debug/pprof/profile?seconds=${DURATION%s}" &
				PROFS+=($!)
			done
		fi
		TIMEFORMAT='%U %S'
		{ time line=$("$BIN" bench produce -q -b "$SEEDS" --topic "rf$rf" --keep --duration "$DURATION" --partitions 3 \
			--producers 3 --acks all --rate "$RATE" --label "rf$rf" --name replication 2>/dev/null) || exit 1; } 2>"$WORK/time"
		c1=$(cpu)
		read -r cu cs <"$WORK/time"
		[ ${#PROFS[@]} -eq 0 ] || wait "${PROFS[@]}"
		f1=$(($(bytes strata_kafka_request_bytes_total Fetch) + $(bytes strata_kafka_response_bytes_total Fetch)))
		echo "$line" | tee -a "$OUT"
		echo "{\"round\":$r,\"rf\":$rf,\"cpu_s\":$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }'),\"client_cpu_s\":$(awk -v u="$cu" -v s="$cs" 'BEGIN { printf "%.3f", u + s }'),\"fetch_bytes\":$((f1 - f0))}" | tee -a "$WORK/cost.jsonl"
	done
done

python3 - "$OUT" "$WORK/cost.jsonl" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
cost = [json.loads(l) for l in open(sys.argv[2])]
mb = {rf: [r["mb_per_s"] for r in runs if r["label"] == f"rf{rf}"] for rf in (1, 3)}
ratios = [b / a for a, b in zip(mb[1], mb[3])]
print(f"MB/s rf1 {sorted(mb[1])}  rf3 {sorted(mb[3])}")
for rf in (1, 3):
    p50 = sorted(r["ack_latency"]["p50_ms"] for r in runs if r["label"] == f"rf{rf}")
    p99 = sorted(r["ack_latency"]["p99_ms"] for r in runs if r["label"] == f"rf{rf}")
    print(f"rf{rf} ack latency p50 ms {[round(x, 1) for x in p50]}, p99 ms {[round(x, 1) for x in p99]}")
print(f"RF3/RF1 per round {[round(x, 2) for x in ratios]}  median {statistics.median(ratios):.2f}  (medians {statistics.median(mb[3]) / statistics.median(mb[1]):.2f})")
for rf in (1, 3):
    pairs = [(r, c) for r, c in zip(runs, cost) if c["rf"] == rf and r["bytes"]]
    repl = [c["fetch_bytes"] / r["bytes"] for r, c in pairs]
    cpu_prod = [c["cpu_s"] / (r["bytes"] / 2**30) for r, c in pairs]
    client = [c["client_cpu_s"] / (r["bytes"] / 2**30) for r, c in pairs]
    line = f"rf{rf}: follower fetch bytes per produced value byte {statistics.median(repl):.2f} (range {min(repl):.2f}-{max(repl):.2f}); CPU s per GiB produced {statistics.median(cpu_prod):.1f} (range {min(cpu_prod):.1f}-{max(cpu_prod):.1f}), producers' {statistics.median(client):.1f} (range {min(client):.1f}-{max(client):.1f})"
    if rf == 3:
        cpu_repl = [c["cpu_s"] / (c["fetch_bytes"] / 2**30) for r, c in pairs if c["fetch_bytes"]]
        line += f"; CPU s per GiB replicated {statistics.median(cpu_repl):.1f} (range {min(cpu_repl):.1f}-{max(cpu_repl):.1f})"
    print(line)
EOF
