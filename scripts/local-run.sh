#!/usr/bin/env bash
# A whole run on this machine's loopback: target-server, N agents and the
# coordinator. Agent i sends from 127.0.i.1 onwards (K source addresses).
# Prints the coordinator's progress and summary and the report path; stops
# every process it started; exits with the coordinator's exit code.
#   scripts/local-run.sh [--connections N] [--agents A] [--sources-per-agent K]
#                        [--target-processes P] [--target-ports T] [--echo-rounds R] [--hold DURATION]
#                        [--report FILE] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
connections=8000 agents=2 sources=4 target_ports=1 target_processes=2 rounds=2 hold=2s report="" build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    --agents) agents=$2; shift 2 ;;
    --sources-per-agent) sources=$2; shift 2 ;;
    --target-processes) target_processes=$2; shift 2 ;;
    --target-ports) target_ports=$2; shift 2 ;;
    --echo-rounds) rounds=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "local-run: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
if (( agents < 1 || agents > 250 || sources < 1 || sources > 250 )); then
  echo "local-run: --agents and --sources-per-agent must be 1..250" >&2; exit 2
fi

(( build )) && scripts/build.sh --programs
bin=build/bin
work=$(mktemp -d /tmp/fourtuple-run.XXXXXX)
[[ -n "$report" ]] || report="$work/report.json"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_ready() {  # FILE PID
  for _ in $(seq 1 200); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "local-run: process $2 exited; see $work" >&2; exit 1; }
    sleep 0.05
  done
  echo "local-run: no ready file $1; see $work" >&2
  exit 1
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]] if sys.argv[2] != "listen" else "\", \"".join(json.load(open(sys.argv[1]))["listen"]))' "$1" "$2"; }

listen=$(printf "127.0.0.1:0,%.0s" $(seq 1 "$target_ports")); listen=${listen%,}
"$bin/target-server" --listen="$listen" --processes="$target_processes" --control=127.0.0.1:0 \
  --ready-file="$work/target.json" >"$work/target.out" 2>"$work/target.err" &
pids+=($!)
wait_ready "$work/target.json" "${pids[-1]}"
for i in $(seq 1 "$agents"); do
  "$bin/agent" --listen=127.0.0.1:0 --ready-file="$work/agent$i.json" 2>"$work/agent$i.err" &
  pids+=($!)
  wait_ready "$work/agent$i.json" "${pids[-1]}"
done

agent_entries=""
for i in $(seq 1 "$agents"); do
  [[ -n "$agent_entries" ]] && agent_entries+=","
  agent_entries+="{\"endpoint\": \"$(field "$work/agent$i.json" listen)\", \"source_addresses\": [\"127.0.$i.1-127.0.$i.$sources\"]}"
done
cat >"$work/plan.json" <<PLAN
{
  "target": {"endpoints": ["$(field "$work/target.json" listen)"],
             "control": "$(field "$work/target.json" control)"},
  "agents": [$agent_entries],
  "connections": $connections,
  "connect_rate": 0,
  "hold": "$hold",
  "echo": {"rounds": $rounds, "payload_bytes": 32, "interval": "500ms", "timeout": "10s"},
  "report_interval": "1s"
}
PLAN
echo "local-run: plan $work/plan.json"
set +e
"$bin/coordinator" run --plan="$work/plan.json" --report="$report"
status=$?
set -e
echo "local-run: report $report (coordinator exit $status)"
exit $status
