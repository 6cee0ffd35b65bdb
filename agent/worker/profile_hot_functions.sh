#!/usr/bin/env bash
# Regenerates agent/worker/hot_functions.txt: the functions an agent worker
# runs, which the link puts first (lld --symbol-ordering-file). Packed
# together they fill a few pages instead of being spread over the whole
# binary, and each page a worker touches counts in its RSS (the kernel maps a
# file in 64 KiB windows around each touched page) -- times ~52 workers at a
# million connections: 1.7 MiB of agent-worker per worker unordered, under
# 1 MiB ordered.
#
# Runs one small run per --source-ports mode on loopback with every worker
# under valgrind's callgrind (apt-get install valgrind), and lists every
# function any worker executed. Run it after a change to the engine's code
# paths, then rebuild; a stale list still links, the new code just lands
# unordered (bench/scale.sh shows the cost).
#
# usage: agent/worker/profile_hot_functions.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$repo/build/bin}"
command -v valgrind >/dev/null || { echo "profile_hot_functions: needs valgrind (apt-get install valgrind)" >&2; exit 3; }
work="$(mktemp -d /tmp/fourtuple-hot.XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

printf '#!/usr/bin/env bash\nexec valgrind --quiet --tool=callgrind --demangle=no --callgrind-out-file=%q %q "$@"\n' \
  "$work/callgrind.%p" "$bin/agent-worker" > "$work/worker.sh"
chmod +x "$work/worker.sh"

wait_ready() {  # FILE
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "profile_hot_functions: $1 not written" >&2
  exit 1
}
first_listen() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$1"; }

"$bin/target-server" --listen=127.0.0.1:0 --processes=2 --ready-file="$work/target.json" >"$work/target.out" 2>"$work/target.err" &
pids+=($!)
wait_ready "$work/target.json"
target="$(first_listen "$work/target.json")"

for mode in kernel agent; do
  "$bin/agent" --listen=127.0.0.1:0 --processes=1 --source-ports="$mode" --worker-binary="$work/worker.sh" \
    --ready-file="$work/agent-$mode.json" 2>"$work/agent-$mode.err" &
  agent_pid=$!
  pids+=("$agent_pid")
  wait_ready "$work/agent-$mode.json"
  endpoint="$(first_listen "$work/agent-$mode.json")"
  printf '%s\n' "{\"target\": {\"endpoints\": [\"$target\"]}," \
    " \"agents\": [{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"127.1.1.1-127.1.1.4\"]}]," \
    " \"connections\": 3000, \"connect_timeout\": \"20s\", \"hold\": \"3s\"," \
    " \"echo\": {\"rounds\": 2, \"interval\": \"1s\", \"timeout\": \"20s\"}, \"report_interval\": \"250ms\"}" \
    > "$work/plan-$mode.json"
  "$bin/coordinator" run --plan="$work/plan-$mode.json" --report="$work/report-$mode.json" > "$work/run-$mode.out" 2>&1 \
    || { echo "profile_hot_functions: the $mode run failed:" >&2; tail -n 20 "$work/run-$mode.out" >&2; exit 1; }
  kill "$agent_pid"
  wait "$agent_pid" 2>/dev/null || true
done

# Callgrind names each function once per file ("fn=(id) name", later "(id)").
grep -hoE '^c?fn=\([0-9]+\) .+' "$work"/callgrind.* | sed -E 's/^c?fn=\([0-9]+\) //' \
  | grep -vE '^\(below main\)|^0x[0-9a-f]+$' | LC_ALL=C sort -u > "$repo/agent/worker/hot_functions.txt"
echo "agent/worker/hot_functions.txt: $(wc -l < "$repo/agent/worker/hot_functions.txt") functions"
