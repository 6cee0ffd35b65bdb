#!/usr/bin/env bash
# A local demo run on loopback: target-server, two agents and the coordinator,
# 8,000 connections from 4 source addresses per agent, echo-checked twice.
# Installs what is missing and builds first. Prints the summary and the report
# paths; stops every process it started.
#   scripts/demo.sh [--connections N]
set -euo pipefail
cd "$(dirname "$0")/.."
connections=8000
if [[ "${1:-}" == "--connections" && -n "${2:-}" ]]; then connections=$2; fi

scripts/build.sh
bin=build/bin
work=$(mktemp -d /tmp/fourtuple-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_ready() {  # FILE PID
  for _ in $(seq 1 200); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "demo: process $2 exited; see $work" >&2; exit 1; }
    sleep 0.05
  done
  echo "demo: no ready file $1; see $work" >&2
  exit 1
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]] if sys.argv[2] != "listen" else ",".join(json.load(open(sys.argv[1]))["listen"]))' "$1" "$2"; }

"$bin/target-server" --listen=127.0.0.1:0 --processes=2 --control=127.0.0.1:0 \
  --ready-file="$work/target.json" >"$work/target.out" 2>"$work/target.err" &
pids+=($!)
wait_ready "$work/target.json" "${pids[-1]}"
for i in 1 2; do
  "$bin/agent" --listen=127.0.0.1:0 --ready-file="$work/agent$i.json" 2>"$work/agent$i.err" &
  pids+=($!)
  wait_ready "$work/agent$i.json" "${pids[-1]}"
done

cat >"$work/plan.json" <<PLAN
{
  "target": {"endpoints": ["$(field "$work/target.json" listen)"],
             "control": "$(field "$work/target.json" control)"},
  "agents": [
    {"endpoint": "$(field "$work/agent1.json" listen)", "source_addresses": ["127.0.1.1-127.0.1.4"]},
    {"endpoint": "$(field "$work/agent2.json" listen)", "source_addresses": ["127.0.2.0/30"]}
  ],
  "connections": $connections,
  "connect_rate": 0,
  "hold": "2s",
  "echo": {"rounds": 2, "payload_bytes": 32, "interval": "500ms", "timeout": "5s"},
  "report_interval": "500ms"
}
PLAN
echo "demo: plan $work/plan.json"
set +e
"$bin/coordinator" run --plan="$work/plan.json" --report="$work/report.json"
status=$?
set -e
echo "demo: report $work/report.json (coordinator exit $status)"
exit $status
