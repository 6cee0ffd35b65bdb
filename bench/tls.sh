#!/usr/bin/env bash
# The TLS benchmark: N connections held with TLS 1.3 (ECDSA P-256 server
# certificate) and echo-verified inside TLS, target-server terminating it,
# agents and coordinator on this one machine; then the same N in plain TCP
# in the same run, for the ratio; then M connections with resume: true.
# Each run in one fresh network namespace, one after the other. Prints the
# handshake rate (connections established per second of the connect phase,
# TLS included), handshake latency, and user memory per held connection
# (RSS growth from before the run to the hold / N) for the agents and for
# target-server.
#
# usage: flock /tmp/fourtuple-bench.lock bench/tls.sh [--connections N] [--resume-connections M]
#          [--agents A] [--sources S] [--in-flight W] [--bin DIR] [--keep]
#   --connections N          TLS and plain runs (default 200000)
#   --resume-connections M   the resume: true run (default 100000; 0 skips it)
#   --agents A               agent processes, each --processes=auto (default 2)
#   --sources S              source addresses, 127.x on loopback (default 100)
#   --in-flight W            connects (and handshakes) in flight per agent worker (default 256)
# Exit: 0 every run passed, 1 a run failed, 2 bad arguments, 3 refused.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)"

if [[ "${1:-}" == __inside ]]; then
  work="$2"
  # shellcheck source=/dev/null
  source "$work/config.sh"
  bench_name=tls
  # shellcheck source=bench/netns_inside.sh
  source "$here/netns_inside.sh"
  run() {  # MODE (plain|tls|resume) N PORT
    local mode="$1" n="$2" port="$3" dir="$work/$1"
    mkdir -p "$dir"
    local processes=$(( (n + 17999) / 18000 ))
    (( processes < 2 )) && processes=2
    local tls_flags=() tls_plan=""
    if [[ $mode != plain ]]; then
      tls_flags=(--listen-tls-cert="$work/server.pem" --listen-tls-key="$work/server.key")
      local resume=false
      [[ $mode == resume ]] && resume=true
      tls_plan=", \"tls\": {\"ca\": \"$work/ca.pem\", \"server_name\": \"target.test\", \"min_version\": \"1.3\", \"resume\": $resume}"
    fi
    echo "$mode: N=$n, target-server --processes=$processes, $agents agents   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$bin/target-server" --listen=127.0.0.1:"$port" --processes="$processes" --backlog=65535 \
      --control=127.0.0.1:0 --stats-interval=250ms --ready-file="$dir/target.json" "${tls_flags[@]}" \
      > "$dir/target.out" 2> "$dir/target.err" &
    pids+=($!)
    local target_pid=$!
    wait_file "$dir/target.json" "$target_pid" "$mode/target" 30
    local agent_pids=() entries="" per=$(( sources / agents )) i
    for i in $(seq 1 "$agents"); do
      "$bin/agent" --listen=127.0.0.1:0 --processes=auto --ready-file="$dir/agent$i.json" 2> "$dir/agent$i.err" &
      pids+=($!)
      agent_pids+=($!)
      wait_file "$dir/agent$i.json" "$!" "$mode/agent$i" 30
      local endpoint
      endpoint="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$dir/agent$i.json")"
      [[ -n "$entries" ]] && entries+=","
      entries+="{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"127.2.$i.1-127.2.$i.$per\"]}"
    done
    cat > "$dir/plan.json" <<PLAN
{
  "target": {"endpoints": ["127.0.0.1:$port"]$tls_plan},
  "agents": [$entries],
  "connections": $n,
  "connect_rate": 0,
  "max_in_flight": $(( in_flight * processes )),
  "connect_timeout": "60s",
  "ramp_timeout": "$(( 120 + n / 500 ))s",
  "hold": "5s",
  "echo": {"rounds": 1, "payload_bytes": 16, "interval": "1s", "timeout": "120s"},
  "report_interval": "500ms",
  "lease": "60s"
}
PLAN
    local agents_csv
    agents_csv="$(IFS=,; echo "${agent_pids[*]}")"
    "$python" "$here/scale_snapshot.py" "$dir/snapshots" base server="$target_pid" client="$agents_csv"
    local t0
    t0="$(date +%s.%N)"
    "$bin/coordinator" run --plan="$dir/plan.json" --report="$dir/report.json" \
      > "$dir/coordinator.out" 2> "$dir/coordinator.err" &
    local coordinator_pid=$!
    "$python" "$here/scale_snapshot.py" --watch "$dir/target.out" "$n" $(( 16 * n )) \
      "$coordinator_pid" "$dir/snapshots" server="$target_pid" client="$agents_csv"
    set +e
    wait "$coordinator_pid"
    echo $? > "$dir/coordinator.rc"
    set -e
    echo "wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" > "$dir/facts"
    stop_all
    grep -E '^(outcome|connections|connect rate|echo rate|tls|  connect|  tls|  echo_rtt)' "$dir/coordinator.out" \
      | sed 's/^/    /' || true
    sleep 2  # closed sockets' memory goes back before the next base
  }
  run tls "$connections" 48443
  run plain "$connections" 48080
  (( resume_connections > 0 )) && run resume "$resume_connections" 48444
  exit 0
fi

connections=200000 resume_connections=100000 agents=2 sources=100 in_flight=256 bin="$repo/build/bin" keep=0
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections="${2:-}"; shift 2 ;;
    --resume-connections) resume_connections="${2:-}"; shift 2 ;;
    --agents) agents="${2:-}"; shift 2 ;;
    --sources) sources="${2:-}"; shift 2 ;;
    --in-flight) in_flight="${2:-}"; shift 2 ;;
    --bin) bin="${2:-}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "tls.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$connections" "$agents" "$sources" "$in_flight"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "tls.sh: expected positive integers, got '$value'" >&2; exit 2; }
done
[[ "$resume_connections" =~ ^[0-9]+$ ]] || { echo "tls.sh: --resume-connections expects a count" >&2; exit 2; }
(( sources >= agents && sources / agents <= 254 )) || { echo "tls.sh: --sources expects $agents..$(( agents * 254 ))" >&2; exit 2; }
(( connections <= sources * 60000 )) || { echo "tls.sh: raise --sources: at most 60,000 connections per source address" >&2; exit 2; }
source "$here/bench_outside.sh"
require_root_and_programs tls.sh "$bin" target-server agent coordinator
# Memory: ~10.5 KiB of kernel memory per connection pair, up to 32 KiB of
# TLS user memory per pair (both sides), 1 GiB for the programs, 2 GiB left
# to the rest of the machine.
available=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
need=$(( connections * (10752 + 32768) + (3 << 30) ))
if (( need > available )); then
  echo "tls.sh: refusing N=$connections: it needs ~$(( need >> 20 )) MiB, MemAvailable is $(( available >> 20 )) MiB" >&2
  exit 3
fi

work="$(mktemp -d /tmp/fourtuple-tls.XXXXXX)"
cleanup() { if (( keep )); then echo "tls: files kept in $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
make_bench_certs "$work"
cat > "$work/config.sh" <<EOF
connections=$connections resume_connections=$resume_connections agents=$agents sources=$sources
in_flight=$in_flight bin='$bin' python='$python'
EOF
echo "tls: N=$connections (resume: $resume_connections) on $(nproc) cores, MemAvailable $(( available >> 20 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
set +e
timeout --kill-after=15 $(( 900 + connections / 200 )) unshare --net -- bash "$0" __inside "$work"
inside=$?
set -e
(( inside == 0 )) || echo "tls: the runs stopped early (exit $inside)" >&2
"$python" "$here/tls_report.py" "$work" "$connections" "$resume_connections"
