#!/usr/bin/env bash
# A local three-node Strata cluster on loopback for trying it out (make cluster): node N
# serves clients on 127.0.0.1:<base+100(N-1)+2> (9092, 9192, 9292), its quorum (Raft) on
# the next port (9093, 9193, 9293) and HTTP (metrics, console) on 127.0.0.1:964<3+N>; its
# data is under $DATA/node-N (default ./data). Ctrl-C stops every node (SIGTERM: each
# hands its leaderships over first). Fixed ports: this is an interactive target, not a
# test. Usage: scripts/cluster.sh [BIN]  (env: DATA, BASE_PORT=9090, HTTP_BASE=9644)
set -euo pipefail
bin=${1:-bin/strata}
data=${DATA:-./data}
base=${BASE_PORT:-9090}
http=${HTTP_BASE:-9644}

voters=""
for n in 1 2 3; do
	voters+="${voters:+,}$n@127.0.0.1:$((base + 100 * (n - 1) + 3))"
done

pids=()
stop() {
	trap - INT TERM
	echo "stopping the cluster..."
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait
	exit 0
}
trap stop INT TERM

for n in 1 2 3; do
	mkdir -p "$data/node-$n"
	listen="127.0.0.1:$((base + 100 * (n - 1) + 2))"
	# Output through sed (prefixed with the node) by process substitution, so that $! is
	# the broker's pid.
	"$bin" serve --listen "$listen" --data-dir "$data/node-$n" --http "127.0.0.1:$((http + n - 1))" \
		--set node.id=$n --set controller.quorum.voters="$voters" > >(sed -u "s/^/[node $n] /") 2>&1 &
	pids+=($!)
done
cat <<MSG
Strata cluster: controller.quorum.voters=$voters
  clients:  127.0.0.1:$((base + 2)),127.0.0.1:$((base + 102)),127.0.0.1:$((base + 202))
  consoles: http://127.0.0.1:$http/ http://127.0.0.1:$((http + 1))/ http://127.0.0.1:$((http + 2))/
  try:      $bin topic create demo --partitions 3 -b 127.0.0.1:$((base + 2))
            $bin topic describe demo -b 127.0.0.1:$((base + 102))
Ctrl-C stops all three nodes.
MSG
wait
