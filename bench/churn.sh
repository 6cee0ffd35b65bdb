#!/usr/bin/env bash
# The load-model benchmark, on this one machine in one fresh network
# namespace, two runs one after the other:
#  churn:   N held while churning R connections/s for S seconds; target-server's
#           open count (its --stats-interval lines, every 250 ms) must never
#           fall below 95% of N while churn runs.
#  restart: N held, then target-server SIGTERMed and started again on the same
#           ports, agents with reconnect on: every connection back, recovery
#           p50/p99/max and the whole storm's length printed beside the plain
#           connect time of the same N (the same run's ramp), and their ratio
#           (storm rate / plain connect rate; the aim is >= 0.8).
#
# usage: flock /tmp/fourtuple-bench.lock bench/churn.sh [--connections N]
#          [--churn-rate R] [--churn-seconds S] [--agents A] [--sources S]
#          [--in-flight W] [--max-backoff DURATION] [--only churn|restart] [--bin DIR] [--keep]
#   --connections N    held connections (default 500000)
#   --churn-rate R     churn, connections/s (default 10000)
#   --churn-seconds S  churn duration (default 60)
#   --agents A         agent processes, each --processes=auto (default 2)
#   --sources S        source addresses, 127.x on loopback (default 100)
#   --in-flight W      connects in flight per agent worker (default 256)
#   --max-backoff D    reconnect.max_backoff (default 2s; initial_backoff 100ms, full jitter)
# Exit: 0 both runs passed their checks, 1 one did not, 2 bad arguments, 3 refused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)"

if [[ "${1:-}" == __inside ]]; then
  work="$2"
  # shellcheck source=/dev/null
  source "$work/config.sh"
  bench_name=churn
  # shellcheck source=bench/netns_inside.sh
  source "$here/netns_inside.sh"
  processes=$(( (connections + 17999) / 18000 ))
  (( processes < 2 )) && processes=2

  start_target() {  # DIR LIFE PORT CONTROL_PORT
    "$bin/target-server" --listen=127.0.0.1:"$3" --processes="$processes" --backlog=65535 \
      --control=127.0.0.1:"$4" --stats-interval=250ms --ready-file="$1/target$2.json" \
      > "$1/target$2.out" 2> "$1/target$2.err" &
    pids+=($!)
    target_pid=$!
    wait_file "$1/target$2.json" "$target_pid" "$(basename "$1")/target$2" 60
  }
  start_agents() {  # DIR: sets `entries`
    local dir="$1" per=$(( sources / agents )) i endpoint
    entries=""
    for i in $(seq 1 "$agents"); do
      "$bin/agent" --listen=127.0.0.1:0 --processes=auto --ready-file="$dir/agent$i.json" 2> "$dir/agent$i.err" &
      pids+=($!)
      wait_file "$dir/agent$i.json" "$!" "$(basename "$dir")/agent$i" 30
      endpoint="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$dir/agent$i.json")"
      [[ -n "$entries" ]] && entries+=","
      entries+="{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"127.3.$i.1-127.3.$i.$per\"]}"
    done
  }
  write_plan() {  # DIR PORT CONTROL_PORT HOLD ECHO EXTRA
    cat > "$1/plan.json" <<PLAN
{
  "target": {"endpoints": ["127.0.0.1:$2"], "control": "127.0.0.1:$3"},
  "agents": [$entries],
  "connections": $connections,
  "connect_rate": 0,
  "max_in_flight": $(( in_flight * processes )),
  "connect_timeout": "30s",
  "ramp_timeout": "$(( 120 + connections / 2000 ))s",
  "hold": "$4",
  "echo": $5,
  "report_interval": "1s",
  "lease": "60s",
  $6
}
PLAN
  }
  # Waits until target LIFE's stats say open >= N (at most SECONDS).
  wait_target_open() {  # DIR LIFE SECONDS
    local deadline=$(( $(date +%s) + $3 ))
    while (( $(date +%s) < deadline )); do
      if "$python" - "$1/target$2.out" "$connections" <<'PY'
import json, sys
n = int(sys.argv[2])
for line in open(sys.argv[1]):
    try:
        if json.loads(line).get("open", 0) >= n: sys.exit(0)
    except ValueError:
        pass
sys.exit(1)
PY
      then return 0; fi
      sleep 0.25
    done
    return 1
  }

  if [[ $only != restart ]]; then
    dir="$work/churn"; mkdir -p "$dir"
    echo "churn: N=$connections, $churn_rate/s for ${churn_seconds}s, target-server --processes=$processes   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    start_target "$dir" 1 49100 49101
    start_agents "$dir"
    write_plan "$dir" 49100 49101 "$(( churn_seconds + 10 ))s" '{"rounds": 1, "payload_bytes": 16, "timeout": "60s"}' \
      "\"churn\": {\"rate\": $churn_rate, \"duration\": \"${churn_seconds}s\"}"
    set +e
    "$bin/coordinator" run --plan="$dir/plan.json" --report="$dir/report.json" > "$dir/coordinator.out" 2> "$dir/coordinator.err"
    echo $? > "$dir/coordinator.rc"
    set -e
    stop_all
    sleep 2
  fi

  if [[ $only != churn ]]; then
    dir="$work/restart"; mkdir -p "$dir"
    echo "restart: N=$connections, target-server --processes=$processes   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    start_target "$dir" 1 49200 49201
    start_agents "$dir"
    write_plan "$dir" 49200 49201 "$(( 30 + connections / 40000 ))s" \
      '{"rounds": 2, "payload_bytes": 16, "interval": "5s", "timeout": "60s"}' \
      "\"reconnect\": {\"initial_backoff\": \"100ms\", \"max_backoff\": \"$max_backoff\", \"jitter\": true, \"max_attempts\": 0}"
    "$bin/coordinator" run --plan="$dir/plan.json" --report="$dir/report.json" > "$dir/coordinator.out" 2> "$dir/coordinator.err" &
    coordinator_pid=$!
    pids+=($coordinator_pid)
    wait_target_open "$dir" 1 $(( 120 + connections / 2000 )) || { echo "churn: the restart run never held $connections" >&2; exit 1; }
    sleep 1
    old_target=$target_pid
    echo "kill=$(date +%s.%N)" > "$dir/facts"
    kill -TERM "$old_target"
    wait "$old_target" || true
    echo "old_target_exited=$(date +%s.%N)" >> "$dir/facts"
    start_target "$dir" 2 49200 49201
    echo "new_target_ready=$(date +%s.%N)" >> "$dir/facts"
    set +e
    wait "$coordinator_pid"
    echo $? > "$dir/coordinator.rc"
    set -e
    stop_all
  fi
  exit 0
fi

connections=500000 churn_rate=10000 churn_seconds=60 agents=2 sources=100 in_flight=256
max_backoff=2s only=both bin="$repo/build/bin" keep=0
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections="${2:-}"; shift 2 ;;
    --churn-rate) churn_rate="${2:-}"; shift 2 ;;
    --churn-seconds) churn_seconds="${2:-}"; shift 2 ;;
    --agents) agents="${2:-}"; shift 2 ;;
    --sources) sources="${2:-}"; shift 2 ;;
    --in-flight) in_flight="${2:-}"; shift 2 ;;
    --max-backoff) max_backoff="${2:-}"; shift 2 ;;
    --only) only="${2:-}"; shift 2 ;;
    --bin) bin="${2:-}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "churn.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$connections" "$churn_rate" "$churn_seconds" "$agents" "$sources" "$in_flight"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "churn.sh: expected positive integers, got '$value'" >&2; exit 2; }
done
[[ "$only" =~ ^(both|churn|restart)$ ]] || { echo "churn.sh: --only expects churn or restart" >&2; exit 2; }
[[ "$max_backoff" =~ ^[0-9.]+(ms|s)$ ]] || { echo "churn.sh: --max-backoff expects a duration such as 2s" >&2; exit 2; }
(( sources >= agents && sources / agents <= 254 )) || { echo "churn.sh: --sources expects $agents..$(( agents * 254 ))" >&2; exit 2; }
(( connections <= sources * 30000 )) || { echo "churn.sh: raise --sources: at most 30,000 connections per source address (churn needs spare ports)" >&2; exit 2; }
source "$here/bench_outside.sh"
require_root_and_programs churn.sh "$bin" target-server agent coordinator
# ~10.5 KiB of kernel memory per connection pair, 1 GiB for the programs,
# 2 GiB left to the rest of the machine.
available=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
need=$(( connections * 10752 + (3 << 30) ))
if (( need > available )); then
  echo "churn.sh: refusing N=$connections: it needs ~$(( need >> 20 )) MiB, MemAvailable is $(( available >> 20 )) MiB" >&2
  exit 3
fi

work="$(mktemp -d /tmp/fourtuple-churn.XXXXXX)"
cleanup() { if (( keep )); then echo "churn: files kept in $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
cat > "$work/config.sh" <<EOF
connections=$connections churn_rate=$churn_rate churn_seconds=$churn_seconds agents=$agents sources=$sources
in_flight=$in_flight max_backoff=$max_backoff only=$only bin='$bin' python='$python'
EOF
echo "churn: N=$connections on $(nproc) cores, MemAvailable $(( available >> 20 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
set +e
timeout --kill-after=15 $(( 900 + connections / 200 + churn_seconds )) unshare --net -- bash "$0" __inside "$work"
inside=$?
set -e
(( inside == 0 )) || echo "churn: the runs stopped early (exit $inside)" >&2
"$python" "$here/churn_report.py" "$work" "$connections" "$churn_seconds"
