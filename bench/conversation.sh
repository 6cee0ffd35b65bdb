#!/usr/bin/env bash
# The conversation benchmark: what a templated request costs. N connections
# held against target-server (which echoes) and echo-verified, twice in the
# same invocation, each in a fresh network namespace: first with the plain
# unique-id payload (16 bytes), then with echo.send = echo.expect =
# "GET {id}\r\n" (the connection's id written into every request and
# compared in every reply, 23 bytes). Prints per run the connect rate, the
# echo rate, echo round trip, and user memory per held connection (RSS
# growth from before the run to the hold / N) for the agents and
# target-server, with the templated/plain ratios.
#
# usage: flock /tmp/fourtuple-bench.lock bench/conversation.sh [--connections N] [--agents A] [--sources S]
#          [--in-flight W] [--bin DIR] [--keep]
#   --connections N   connections per run (default 200000)
#   --agents A        agent processes, each --processes=auto (default 2)
#   --sources S       source addresses, 127.x on loopback (default 100)
#   --in-flight W     connects (and echoes) in flight per agent worker (default 256)
# Runs above 50,000 connections hold the benchmark lock (flock, as above).
# Exit: 0 both runs passed, 1 a run failed, 2 bad arguments, 3 refused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)"

if [[ "${1:-}" == __inside ]]; then
  work="$2"
  mode="$3"
  # shellcheck source=/dev/null
  source "$work/config.sh"
  bench_name=conversation
  # shellcheck source=bench/netns_inside.sh
  source "$here/netns_inside.sh"
  dir="$work/$mode"
  mkdir -p "$dir"
  processes=$(( (connections + 17999) / 18000 ))
  (( processes < 2 )) && processes=2
  echo_plan='"payload_bytes": 16'
  [[ $mode == templated ]] && echo_plan='"send": "GET {id}\r\n", "expect": "GET {id}\r\n"'
  echo "$mode: N=$connections, target-server --processes=$processes, $agents agents   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$bin/target-server" --listen=127.0.0.1:48090 --processes="$processes" --backlog=65535 \
    --control=127.0.0.1:0 --stats-interval=250ms --ready-file="$dir/target.json" \
    > "$dir/target.out" 2> "$dir/target.err" &
  pids+=($!)
  target_pid=$!
  wait_file "$dir/target.json" "$target_pid" "$mode/target" 30
  agent_pids=() entries="" per=$(( sources / agents ))
  for i in $(seq 1 "$agents"); do
    "$bin/agent" --listen=127.0.0.1:0 --processes=auto --ready-file="$dir/agent$i.json" 2> "$dir/agent$i.err" &
    pids+=($!)
    agent_pids+=($!)
    wait_file "$dir/agent$i.json" "$!" "$mode/agent$i" 30
    endpoint="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$dir/agent$i.json")"
    [[ -n "$entries" ]] && entries+=","
    entries+="{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"127.3.$i.1-127.3.$i.$per\"]}"
  done
  cat > "$dir/plan.json" <<PLAN
{
  "target": {"endpoints": ["127.0.0.1:48090"]},
  "agents": [$entries],
  "connections": $connections,
  "connect_rate": 0,
  "max_in_flight": $(( in_flight * processes )),
  "connect_timeout": "60s",
  "ramp_timeout": "$(( 120 + connections / 500 ))s",
  "hold": "5s",
  "echo": {"rounds": 1, $echo_plan, "interval": "1s", "rate": 0, "timeout": "120s"},
  "report_interval": "500ms",
  "lease": "60s"
}
PLAN
  agents_csv="$(IFS=,; echo "${agent_pids[*]}")"
  "$python" "$here/scale_snapshot.py" "$dir/snapshots" base server="$target_pid" client="$agents_csv"
  "$bin/coordinator" run --plan="$dir/plan.json" --report="$dir/report.json" \
    > "$dir/coordinator.out" 2> "$dir/coordinator.err" &
  coordinator_pid=$!
  "$python" "$here/scale_snapshot.py" --watch "$dir/target.out" "$connections" $(( 16 * connections )) \
    "$coordinator_pid" "$dir/snapshots" server="$target_pid" client="$agents_csv"
  set +e
  wait "$coordinator_pid"
  echo $? > "$dir/coordinator.rc"
  set -e
  stop_all
  grep -E '^(outcome|connections|connect rate|echo rate|  connect|  echo_rtt)' "$dir/coordinator.out" \
    | sed 's/^/    /' || true
  exit 0
fi

connections=200000 agents=2 sources=100 in_flight=256 bin="$repo/build/bin" keep=0
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections="${2:-}"; shift 2 ;;
    --agents) agents="${2:-}"; shift 2 ;;
    --sources) sources="${2:-}"; shift 2 ;;
    --in-flight) in_flight="${2:-}"; shift 2 ;;
    --bin) bin="${2:-}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "conversation.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$connections" "$agents" "$sources" "$in_flight"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "conversation.sh: expected positive integers, got '$value'" >&2; exit 2; }
done
(( sources >= agents && sources / agents <= 254 )) || { echo "conversation.sh: --sources expects $agents..$(( agents * 254 ))" >&2; exit 2; }
(( connections <= sources * 60000 )) || { echo "conversation.sh: raise --sources: at most 60,000 connections per source address" >&2; exit 2; }
source "$here/bench_outside.sh"
require_root_and_programs conversation.sh "$bin" target-server agent coordinator
# Memory: ~10.5 KiB of kernel memory per connection pair, 1 GiB for the
# programs, 2 GiB left to the rest of the machine.
available=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
need=$(( connections * 10752 + (3 << 30) ))
if (( need > available )); then
  echo "conversation.sh: refusing N=$connections: it needs ~$(( need >> 20 )) MiB, MemAvailable is $(( available >> 20 )) MiB" >&2
  exit 3
fi

work="$(mktemp -d /tmp/fourtuple-conversation.XXXXXX)"
cleanup() { if (( keep )); then echo "conversation: files kept in $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
cat > "$work/config.sh" <<EOF
connections=$connections agents=$agents sources=$sources in_flight=$in_flight bin='$bin' python='$python'
EOF
echo "conversation: N=$connections on $(nproc) cores, MemAvailable $(( available >> 20 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in plain templated; do
  set +e
  timeout --kill-after=15 $(( 600 + connections / 200 )) unshare --net -- bash "$0" __inside "$work" "$mode"
  inside=$?
  set -e
  (( inside == 0 )) || echo "conversation: the $mode run stopped early (exit $inside)" >&2
  sleep 2  # closed sockets' memory goes back before the next base
done
"$python" "$here/conversation_report.py" "$work" "$connections"
