#!/usr/bin/env bash
# Strata against franz-go's kfake (persisting to disk, fsync per batch), same workloads,
# alternating brokers, several rounds; prints the medians and the Strata/kfake ratio of
# every figure as a markdown table (for docs/benchmarks.md).
#
# Every run starts a fresh broker on an empty temporary data directory (strata bench
# --start-broker), so broker CPU and peak RSS belong to that run alone.
#
# Knobs (environment): ROUNDS (3), DURATION per produce/e2e run (8s), CONSUME_COUNT
# records filled then consumed (300000), E2E_RATE records/s (10000), IDLE_ROUNDS (1),
# IDLE_DURATION (10s), MEMORY_ROUNDS (1: the memory workloads, 3,000 idle connections
# and 20 consumers fetching 64 MiB at once; 0 skips them), OUT directory for results (a
# new temporary directory), GO (go), ONLY (an extended regular expression: run only the
# produce/consume/e2e workloads whose name matches it, e.g. ONLY='^produce' IDLE_ROUNDS=0
# MEMORY_ROUNDS=0 for the produce figures alone).
# The defaults finish in about 6-8 minutes on 2 cores.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
CONSUME_COUNT=${CONSUME_COUNT:-300000}
E2E_RATE=${E2E_RATE:-10000}
IDLE_ROUNDS=${IDLE_ROUNDS:-1}
IDLE_DURATION=${IDLE_DURATION:-10s}
MEMORY_ROUNDS=${MEMORY_ROUNDS:-1}
GO=${GO:-go}
ONLY=${ONLY:-}

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-compare.XXXXXX")}
mkdir -p "$OUT" bin
RESULTS=$OUT/results.jsonl
LOG=$OUT/bench.log
: >"$RESULTS"
: >"$LOG"

echo "building bin/strata and bin/kfakebroker ..." >&2
"$GO" build -o bin/strata ./cmd/strata
"$GO" build -o bin/kfakebroker ./cmd/strata/bench/kfakebroker

STRATA_CMD="$ROOT/bin/strata serve --listen 127.0.0.1:0 --http off --ready-file {ready} --data-dir {dir} --log-level warn"
KFAKE_CMD="$ROOT/bin/kfakebroker --listen 127.0.0.1:0 --ready-file {ready} --data-dir {dir} --sync"

# name | bench mode | flags
WORKLOADS=(
  "produce 1 KiB, 1 partition|produce|--record-size 1024 --partitions 1 --acks all --duration $DURATION"
  "produce 1 KiB, 8 partitions|produce|--record-size 1024 --partitions 8 --acks all --duration $DURATION"
  "produce 100 B, 1 partition|produce|--record-size 100 --partitions 1 --acks all --duration $DURATION"
  "produce 100 B, 8 partitions|produce|--record-size 100 --partitions 8 --acks all --duration $DURATION"
  "consume 1 KiB, 8 partitions, group|consume|--record-size 1024 --partitions 8 --acks all --count $CONSUME_COUNT"
  "e2e 1 KiB at $E2E_RATE rec/s, linger 0|e2e|--record-size 1024 --partitions 1 --acks all --linger 0s --rate $E2E_RATE --duration $DURATION"
)
IDLE="idle, 1000 partitions|idle|--partitions 1000 --duration $IDLE_DURATION"
MEMORY=(
  "memory, 3000 idle connections|memory|--conns 3000"
  "memory, 20 consumers × 64 MiB fetches|memory|--consumers 20 --fetch-bytes 67108864 --fetches 5"
)
if [[ -n $ONLY ]]; then
  selected=()
  for w in "${WORKLOADS[@]}"; do
    if [[ ${w%%|*} =~ $ONLY ]]; then selected+=("$w"); fi
  done
  WORKLOADS=("${selected[@]}")
fi

total=$(( ROUNDS * ${#WORKLOADS[@]} * 2 + IDLE_ROUNDS * 2 + MEMORY_ROUNDS * ${#MEMORY[@]} * 2 ))
n=0
t0=$(date +%s)
failures=0

# run LABEL COMMAND "NAME|MODE|FLAGS"
run() {
  local label=$1 cmd=$2 spec=$3
  local name mode flags
  IFS='|' read -r name mode flags <<<"$spec"
  n=$((n + 1))
  local start line figure
  start=$(date +%s)
  # shellcheck disable=SC2086 # flags are word lists
  if line=$(bin/strata bench "$mode" -q --label "$label" --name "$name" $flags --start-broker "$cmd" 2>>"$LOG"); then
    echo "$line" >>"$RESULTS"
    case $mode in
      memory)
        figure=$(sed -n 's/.*"conns_rss_mib":\([0-9.e+-]*\).*/RSS \1 MiB/p; s/.*"fetch_hwm_mib":\([0-9.e+-]*\).*/peak RSS \1 MiB/p' <<<"$line") ;;
      idle) figure=$(printf 'idle cpu %.2f%%, startup %.0f ms' \
          "$(sed -n 's/.*"idle":{[^}]*"cpu_percent":\([0-9.e+-]*\).*/\1/p' <<<"$line")" \
          "$(sed -n 's/.*"startup_ms":\([0-9.e+-]*\).*/\1/p' <<<"$line")") ;;
      e2e) figure=$(printf 'e2e p99 %.1f ms' "$(sed -n 's/.*"e2e_latency":{[^}]*"p99_ms":\([0-9.e+-]*\).*/\1/p' <<<"$line")") ;;
      *) figure=$(printf '%.1f MB/s' "$(sed -n 's/.*"mb_per_s":\([0-9.e+-]*\).*/\1/p' <<<"$line")") ;;
    esac
  else
    failures=$((failures + 1))
    figure="FAILED (see $LOG)"
    tail -5 "$LOG" >&2
  fi
  local now elapsed eta
  now=$(date +%s)
  elapsed=$((now - t0))
  eta=$(( elapsed * (total - n) / n ))
  printf '[%2d/%d] %-7s %-42s %-28s %3ds  (elapsed %dm%02ds, ETA %dm%02ds)\n' \
    "$n" "$total" "$label" "$name" "$figure" $((now - start)) $((elapsed / 60)) $((elapsed % 60)) $((eta / 60)) $((eta % 60)) >&2
}

for round in $(seq 1 "$ROUNDS"); do
  for w in "${WORKLOADS[@]}"; do
    # Alternate which broker goes first, so drift on a shared machine hits both.
    if (( round % 2 == 1 )); then
      run strata "$STRATA_CMD" "$w"; run kfake "$KFAKE_CMD" "$w"
    else
      run kfake "$KFAKE_CMD" "$w"; run strata "$STRATA_CMD" "$w"
    fi
  done
done
for round in $(seq 1 "$IDLE_ROUNDS"); do
  run strata "$STRATA_CMD" "$IDLE"
  run kfake "$KFAKE_CMD" "$IDLE"
done
for round in $(seq 1 "$MEMORY_ROUNDS"); do
  for w in "${MEMORY[@]}"; do
    run strata "$STRATA_CMD" "$w"
    run kfake "$KFAKE_CMD" "$w"
  done
done

# Machine facts: cores, CPU model, and the latency of a 4 KiB write + fsync (O_DSYNC) on
# the temporary directory the brokers' data lives in.
probe_dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-fsync-probe.XXXXXX")
fsync_ms=$(LC_ALL=C dd if=/dev/zero of="$probe_dir/probe" bs=4k count=500 oflag=dsync 2>&1 |
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s," || $i ~ /^s,$/) { printf "%.3f", $(i-1) * 1000 / 500 } }')
rm -rf "$probe_dir"
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
kernel=$(uname -sr)
rev=${REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}

REPORT=$OUT/report.md
{
  echo "Measured $(date -u +%Y-%m-%d) at commit $rev with \`make bench-compare\` (ROUNDS=$ROUNDS, DURATION=$DURATION, CONSUME_COUNT=$CONSUME_COUNT, E2E_RATE=$E2E_RATE)."
  echo "Machine: $(nproc) cores, $cpu_model, $kernel, $("$GO" version | awk '{print $3}'); 4 KiB write+fsync on the data disk: ${fsync_ms:-?} ms."
  echo "Peer: franz-go kfake (\`bin/kfakebroker --data-dir D --sync\`: persists, fsyncs every batch). Each cell is the median of the runs; every run starts a fresh broker."
  echo
  bin/strata bench report --subject strata --baseline kfake "$RESULTS"
} >"$REPORT"

echo >&2
echo "results: $RESULTS   log: $LOG   report: $REPORT   ($failures failed runs, $(( $(date +%s) - t0 ))s)" >&2
echo
cat "$REPORT"
exit $(( failures > 0 ))
