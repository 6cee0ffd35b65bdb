#!/usr/bin/env bash
# The scale benchmark: N echo-verified connections on this one machine, first
# with the kernel-floor programs (bench/floor), then with the whole of
# fourtuple (target-server, agents, coordinator), at the same N, one after the
# other, in one fresh network namespace. Prints a table and writes JSON:
# established, verified, connect and echo rate, wall time, user bytes per
# connection (RSS growth / N of every server and every client process), kernel
# bytes per connection pair (Slab growth / N) and each fourtuple figure's ratio
# to the floor's. See bench/README.md for how to read it.
#
# usage: bench/scale.sh --connections N [--json FILE] [--sources S] [--agents A]
#          [--in-flight W] [--hold SECONDS] [--time-limit SECONDS]
#          [--agent-flags 'FLAGS'] [--bin DIR] [--no-floor] [--keep]
#          [--source-prefix PREFIX [--per-address Q]]
#   --sources S      source addresses, 127.x on loopback (default 250; the floor
#                    uses the same count, at most 254)
#   --agents A       agent processes, each with --processes=auto (default 2)
#   --in-flight W    connects in flight per client process (default 1024)
#   --hold SECONDS   hold after the connect phase (default 5 + N/25000)
#   --time-limit S   the whole run is killed after S seconds (default 300 + N/1000)
#   --agent-flags F  extra flags for every agent (experiments)
#   --no-floor       fourtuple only (the table then has no ratios)
#   --source-prefix P  source addresses by the prefix instead of 127.x aliases:
#                    P (IPv4 such as 198.18.0.0/15, or IPv6 such as
#                    2001:db8:7::/64) is made local in the namespace with one
#                    route (deploy/host/sources.sh anyip), each agent gets its
#                    own slice of it, and every program listens on that
#                    family's loopback (127.0.0.1 or [::1]): target, control
#                    and agents. Implies --no-floor.
#   --per-address Q  with --source-prefix: connections per source address
#                    (connections_per_source_address; default: one each)
# Exit: 0 both passed, 1 a run failed, 2 bad arguments, 3 refused (memory,
# permissions, missing binaries).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"

if [[ "${1:-}" == __inside ]]; then
  # ---------------------------------------------------------------------------
  # Inside the fresh network namespace (see the end of this file): loopback up,
  # this namespace's own sysctls, then the two runs.
  work="$2"
  # shellcheck source=/dev/null
  source "$work/config.sh"
  bench_name=scale
  # shellcheck source=bench/netns_inside.sh
  source "$here/netns_inside.sh"
  echo "netns: ip_local_port_range $(tr '\t' '-' < /proc/sys/net/ipv4/ip_local_port_range)," \
       "somaxconn $(cat /proc/sys/net/core/somaxconn)," \
       "tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)"

  now() { date +%s.%N; }
  snapshot() { "$python" "$here/scale_snapshot.py" "$@"; }
  # A plain "KEY=VALUE" fact for scale_report.py.
  fact() { echo "$1=$2" >> "$work/facts"; }
  processes_for() { echo $(( ($1 + fd_per_process - 1) / fd_per_process > 2 ? ($1 + fd_per_process - 1) / fd_per_process : 2 )); }
  server_processes="$(processes_for "$connections")"
  client_processes="$(processes_for "$connections")"
  fact server_processes "$server_processes"
  fact client_processes "$client_processes"

  # --- the floor ---------------------------------------------------------------
  if (( run_floor )); then
    floor_sources=$(( sources > 254 ? 254 : sources ))
    fact floor_sources "$floor_sources"
    echo "floor: floor_server -P $server_processes, floor_client -n $connections -q $client_processes" \
         "-s $floor_sources -w $in_flight -H $hold   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    fact floor_load "$(cut -d' ' -f1-3 /proc/loadavg)"
    t0="$(now)"
    "$work/floor_server" -p 47700 -P "$server_processes" -b 65535 > "$work/floor_server.out" 2> "$work/floor_server.err" &
    pids+=($!)
    server_pid=$!
    for _ in $(seq 1 400); do grep -q READY "$work/floor_server.out" 2>/dev/null && break; sleep 0.05; done
    grep -q READY "$work/floor_server.out" || { echo "scale: floor_server did not start" >&2; cat "$work/floor_server.err" >&2; exit 1; }
    # floor_client runs the hook at base, hold (connected and accepted), echo
    # (verified) and closed, from a child of itself; the hook finds its pid here.
    cat > "$work/floor_hook.sh" <<EOF
#!/usr/bin/env bash
[[ "\$1" == closed ]] && exit 0
"$python" "$here/scale_snapshot.py" "$work/floor.snapshots" "\$1" server=$server_pid client=\$(cat "$work/floor_client.pid")
EOF
    chmod +x "$work/floor_hook.sh"
    set +e
    bash -c 'echo $$ > "$1/floor_client.pid"; shift; exec "$@"' _ "$work" \
      "$work/floor_client" -p 47700 -n "$connections" -q "$client_processes" -s "$floor_sources" \
      -w "$in_flight" -H "$hold" -T "$phase_timeout" -x "$work/floor_hook.sh" > "$work/floor_client.out" 2>&1
    echo $? > "$work/floor_client.rc"
    set -e
    stop_all
    fact floor_wall "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
    grep -E '^(CONNECT|ECHO|RESULT)' "$work/floor_client.out" | sed 's/^/    /'
    sleep 2  # let the closed sockets' memory go back before the next base
  fi

  # --- fourtuple ---------------------------------------------------------------
  loopback=127.0.0.1
  if [[ -n "$source_prefix" ]]; then
    "$repo/deploy/host/sources.sh" anyip add lo "$source_prefix"
    [[ "$source_prefix" == *:* ]] && loopback="[::1]"
    # Each agent its own slice of the prefix (a /64 into /80s, a /15 into /16s...).
    mapfile -t agent_prefixes < <("$python" -c '
import ipaddress, math, sys
net = ipaddress.ip_network(sys.argv[1])
agents = int(sys.argv[2])
bits = max(1, math.ceil(math.log2(agents))) if agents > 1 else 0
if net.version == 6: bits = max(bits, 16)
for sub in list(net.subnets(prefixlen_diff=bits))[:agents]: print(sub)' "$source_prefix" "$agents")
    fact source_prefix "$source_prefix"
  fi
  echo "fourtuple: target-server --processes=$server_processes, $agents agents --processes=auto" \
       "$agent_flags, $sources source addresses, hold ${hold}s   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  fact fourtuple_load "$(cut -d' ' -f1-3 /proc/loadavg)"
  t0="$(now)"
  "$bin/target-server" --listen="$loopback:47800" --processes="$server_processes" --backlog=65535 \
    --control="$loopback:0" --stats-interval=250ms --ready-file="$work/target.json" \
    > "$work/target.out" 2> "$work/target.err" &
  pids+=($!)
  target_pid=$!
  wait_file "$work/target.json" "$target_pid" target
  agent_pids=()
  agent_entries=""
  per_agent=$(( sources / agents ))
  for i in $(seq 1 "$agents"); do
    # shellcheck disable=SC2086
    "$bin/agent" --listen="$loopback:0" --processes=auto --ready-file="$work/agent$i.json" $agent_flags \
      2> "$work/agent$i.err" &
    pids+=($!)
    agent_pids+=($!)
    wait_file "$work/agent$i.json" "$!" "agent$i"
    count=$(( per_agent + (i <= sources % agents ? 1 : 0) ))
    endpoint="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$work/agent$i.json")"
    [[ -n "$agent_entries" ]] && agent_entries+=","
    if [[ -n "$source_prefix" ]]; then
      agent_entries+="{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"${agent_prefixes[$((i - 1))]}\"]"
      (( per_address > 0 )) && agent_entries+=", \"connections_per_source_address\": $per_address"
      agent_entries+="}"
    else
      agent_entries+="{\"endpoint\": \"$endpoint\", \"source_addresses\": [\"127.1.$i.1-127.1.$i.$count\"]}"
    fi
  done
  control="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["control"])' "$work/target.json")"
  cat > "$work/plan.json" <<PLAN
{
  "target": {"endpoints": ["$loopback:47800"], "control": "$control"},
  "agents": [$agent_entries],
  "connections": $connections,
  "connect_rate": 0,
  "max_in_flight": $(( in_flight * client_processes )),
  "connect_timeout": "30s",
  "ramp_timeout": "${phase_timeout}s",
  "hold": "${hold}s",
  "echo": {"rounds": 1, "payload_bytes": 16, "interval": "1s", "timeout": "${echo_timeout}s"},
  "report_interval": "250ms",
  "lease": "30s"
}
PLAN
  agents_csv="$(IFS=,; echo "${agent_pids[*]}")"
  snapshot "$work/fourtuple.snapshots" base server="$target_pid" client="$agents_csv"
  # No --force: the coordinator's own preflight (memory of the host both
  # agents share, ports, fds) refuses a plan that will not fit, and its report
  # then says what gave.
  "$bin/coordinator" run --plan="$work/plan.json" --report="$work/report.json" \
    > "$work/coordinator.out" 2> "$work/coordinator.err" &
  coordinator_pid=$!
  # While the coordinator runs: snapshot once every connection is open
  # (target-server's stats line says open=N) and again once the echo round has
  # gone through target-server (16 bytes each) while all are still open; keep
  # the coordinator's own peak RSS and CPU time.
  "$python" "$here/scale_snapshot.py" --watch "$work/target.out" "$connections" $(( 16 * connections )) \
    "$coordinator_pid" "$work/fourtuple.snapshots" server="$target_pid" client="$agents_csv"
  set +e
  wait "$coordinator_pid"
  echo $? > "$work/coordinator.rc"
  set -e
  stop_all
  fact fourtuple_wall "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
  sed 's/^/    /' "$work/coordinator.out" | grep -vE '^    +\[?[0-9.]+s\]? ' | tail -n 25 || true
  # A refused plan: preflight's sentences (the limit and the fix) are on stderr.
  [[ "$(cat "$work/coordinator.rc")" == 3 ]] && { grep '^coordinator: ' "$work/coordinator.err" | sed 's/^/    /' || true; }
  exit 0
fi

# -----------------------------------------------------------------------------
# Outside: arguments, the memory check, the floor build, then this script again
# inside `unshare --net` under a time limit.
connections="" json="" sources=250 agents=2 in_flight=1024 hold="" time_limit="" agent_flags=""
bin="$repo/build/bin" floor_dir="$here/floor" run_floor=1 keep=0 source_prefix="" per_address=0
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) connections="${2:-}"; shift 2 ;;
    --json) json="${2:-}"; shift 2 ;;
    --sources) sources="${2:-}"; shift 2 ;;
    --agents) agents="${2:-}"; shift 2 ;;
    --in-flight) in_flight="${2:-}"; shift 2 ;;
    --hold) hold="${2:-}"; shift 2 ;;
    --time-limit) time_limit="${2:-}"; shift 2 ;;
    --agent-flags) agent_flags="${2:-}"; shift 2 ;;
    --bin) bin="${2:-}"; shift 2 ;;
    --no-floor) run_floor=0; shift ;;
    --source-prefix) source_prefix="${2:-}"; run_floor=0; shift 2 ;;
    --per-address) per_address="${2:-}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scale.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$connections" ]] || { echo "scale.sh: --connections N is required (see --help)" >&2; exit 2; }
positive() {  # FLAG VALUE
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: $1 expects a positive integer, got '$2'" >&2; exit 2; }
}
positive --connections "$connections"
positive --sources "$sources"
positive --agents "$agents"
positive --in-flight "$in_flight"
[[ -z "$hold" ]] || positive --hold "$hold"
[[ -z "$time_limit" ]] || positive --time-limit "$time_limit"
(( agents <= 250 )) || { echo "scale.sh: --agents expects 1..250, got $agents" >&2; exit 2; }
(( sources >= agents && sources / agents <= 254 )) || {
  echo "scale.sh: --sources expects $agents..$(( agents * 254 )) for $agents agents (each agent's addresses are 127.1.i.1-254), got $sources" >&2; exit 2; }
[[ -z "$source_prefix" || "$source_prefix" == */* ]] || {
  echo "scale.sh: --source-prefix expects ADDR/LEN, got '$source_prefix'" >&2; exit 2; }
(( per_address == 0 )) || positive --per-address "$per_address"
# The port search needs room: a source address serves at most 64,512 ports per target endpoint.
[[ -n "$source_prefix" ]] || (( connections <= sources * 64000 )) || {
  echo "scale.sh: $connections connections from $sources source addresses to one port exceed 64,000 per address: raise --sources" >&2; exit 2; }
hold="${hold:-$(( 5 + connections / 25000 ))}"
time_limit="${time_limit:-$(( 300 + connections / 1000 ))}"
phase_timeout=$(( 60 + connections / 2000 ))
# Each echo waits up to echo.timeout in the agent (the coordinator calls a
# round late only when no echo settles anywhere for that long). Generous: at
# a million under load, echoes have waited 5.8 s, and a loaded round minutes.
echo_timeout=$(( 60 + connections / 4000 ))
fd_per_process=18000  # RLIMIT_NOFILE is 20000 per process here; room for the rest
# The system Python: a version-manager shim in PATH can take seconds to start on a loaded machine.
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)"

source "$here/bench_outside.sh"
require_root_and_programs scale.sh "$bin" target-server agent coordinator

# Memory: both runs measured 10,282 B of slab growth per connection pair
# here (kernel 6.18; two TCP sockets, two socket inodes, files, dentries,
# epoll items, port tracking), and fourtuple's user side is ~150 B per
# connection. Count 10.5 KiB per pair, 1 GiB for the programs themselves, and
# leave 2 GiB to the others on this machine. The runs follow each other, so
# the larger one decides.
# Only the floor needs it: fourtuple's own preflight checks the memory of the
# host its agents share (and says "what gave: memory" in its report), so a
# --no-floor run upward finds fourtuple's own answer.
available=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
need=$(( connections * 10752 + (3 << 30) ))
if (( run_floor && need > available )); then
  fits=$(( (available - (3 << 30)) / 10752 ))
  (( fits < 0 )) && fits=0
  echo "scale.sh: refusing N=$connections: it needs ~$(( need >> 20 )) MiB ($connections connection pairs x 10.5 KiB of kernel memory" \
       "+ 1 GiB for the programs + 2 GiB left to the rest of the machine) but MemAvailable is $(( available >> 20 )) MiB;" \
       "at most ~$fits connections fit now" >&2
  exit 3
fi

work="$(mktemp -d /tmp/fourtuple-scale.XXXXXX)"
cleanup() { if (( keep )); then echo "scale: files kept in $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
gcc -O2 -Wall -Wextra -Werror -o "$work/floor_server" "$floor_dir/floor_server.c"
gcc -O2 -Wall -Wextra -Werror -o "$work/floor_client" "$floor_dir/floor_client.c"
# Cold start, as on a lab host after a reboot: drop the page cache of the
# programs under test (theirs only; clean pages, read again on use). A file
# just written (the linker's output, these gcc builds) sits in the page cache
# in the large folios its writes made, and this kernel maps a whole folio into
# every process that touches a byte of it: each of ~54 agent workers would
# count ~2 MiB of agent-worker in its RSS where it uses under 1 MiB.
"$python" - "$work/floor_server" "$work/floor_client" "$bin/target-server" "$bin/agent" \
    "$bin/agent-worker" "$bin/coordinator" <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
echo "scale: page cache of the programs under test dropped (cold start, as after a reboot)"
cat > "$work/config.sh" <<EOF
connections=$connections sources=$sources agents=$agents in_flight=$in_flight hold=$hold
phase_timeout=$phase_timeout echo_timeout=$echo_timeout fd_per_process=$fd_per_process run_floor=$run_floor
bin='$bin' agent_flags='$agent_flags' python='$python' source_prefix='$source_prefix' per_address=$per_address
repo='$repo'
EOF
echo "scale: N=$connections on $(nproc) cores, MemAvailable $(( available >> 20 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg), time limit ${time_limit}s"
set +e
timeout --kill-after=15 "$time_limit" unshare --net -- bash "$0" __inside "$work"
inside=$?
set -e
if (( inside == 124 || inside == 137 )); then
  echo "scale: the run passed the time limit of ${time_limit}s and was stopped" >&2
  echo "timed_out=1" >> "$work/facts"
fi
"$python" "$here/scale_report.py" "$work" "$connections" "$json" || exit 1
