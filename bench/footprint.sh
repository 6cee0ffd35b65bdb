#!/usr/bin/env bash
# The fixed footprint of the control programs: what an idle agent and a
# coordinator in the middle of a small run cost in memory, read from
# /proc/PID/smaps_rollup. RSS counts every shared library page the process
# maps (shared with every other process using them); PSS divides shared
# pages by their sharers; Private is what the process alone holds (what the
# machine gets back when it exits). Also the thread count.
#
# usage: bench/footprint.sh [--bin=DIR] [--connections=N]
# Defaults: binaries from build/bin, a run of 2,000 connections against
# target-server on loopback, holding for 4 s while the coordinator is sampled.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="$repo/build/bin"
connections=2000
for arg in "$@"; do
  case "$arg" in
    --bin=*) bin="${arg#*=}" ;;
    --connections=*) connections="${arg#*=}" ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "footprint.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$connections" =~ ^[1-9][0-9]*$ ]] || { echo "footprint.sh: --connections expects a whole number >= 1" >&2; exit 2; }

work="$(mktemp -d /tmp/footprint.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() {
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "footprint.sh: $1 did not appear" >&2; exit 1
}
row() {  # LABEL PID
  awk -v label="$1" -v threads="$(awk '/^Threads:/ {print $2}' /proc/"$2"/status)" '
    /^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Private_Clean:/ {pc=$2} /^Private_Dirty:/ {pd=$2}
    END {printf "%-34s %9.1f %9.1f %9.1f %8d\n", label, rss/1024, pss/1024, (pc+pd)/1024, threads}' \
    /proc/"$2"/smaps_rollup
}

"$bin/target-server" --listen=127.0.0.1:0 --processes=1 --ready-file="$work/target.ready" \
  > /dev/null 2> "$work/target.err" &
pids+=($!)
"$bin/agent" --listen=127.0.0.1:0 --ready-file="$work/agent.ready" > /dev/null 2> "$work/agent.err" &
agent_pid=$!
pids+=($agent_pid)
wait_ready "$work/target.ready"
wait_ready "$work/agent.ready"
sleep 1
printf '%-34s %9s %9s %9s %8s\n' "process (MiB)" RSS PSS private threads
row "agent, idle" "$agent_pid"

target="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$work/target.ready")"
agent="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$work/agent.ready")"
cat > "$work/plan.json" <<PLAN
{"target": {"endpoints": ["$target"]},
 "agents": [{"endpoint": "$agent", "source_addresses": ["127.0.1.1"]}],
 "connections": $connections, "hold": "4s", "echo": {"rounds": 0}}
PLAN
"$bin/coordinator" run --plan="$work/plan.json" --report="$work/report.json" > "$work/run.out" 2> "$work/run.err" &
coordinator_pid=$!
pids+=($coordinator_pid)
sleep 3
row "coordinator, holding a run" "$coordinator_pid"
row "agent front, holding a run" "$agent_pid"
wait "$coordinator_pid" || { echo "footprint.sh: the run failed" >&2; cat "$work/run.err" >&2; exit 1; }
