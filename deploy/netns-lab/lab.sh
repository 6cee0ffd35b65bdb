#!/usr/bin/env bash
# A lab of several hosts on one machine, built from network namespaces (root only):
#   laptop    runs the coordinator                       198.19.0.1
#   target    runs target-server (echo 9000, control 9001) 198.18.0.1
#   agent i   runs an agent (gRPC 7000), i = 1..N         198.18.i.1 + K /32 aliases 198.18.i.2..
# joined by a bridge that lives in a namespace of its own, so nothing at all is
# added to the root namespace. Every interface is on 198.18.0.0/15 and no
# namespace has a default route: nothing can leave the lab.
#
#   deploy/netns-lab/lab.sh --agents N --connections M [--report FILE]
#                           [--sources-per-agent K] [--ipv6] [--keep]
#
# --ipv6: the same lab over IPv6 on the LAN 2001:db8:ff::/64 (laptop ::100,
# target ::1, agent i ::1:i), every program listening on IPv6, and each agent
# host owning a whole /64 instead of aliases: 2001:db8:1XX::/64 (XX = i in
# hex) is local on its lo (one route, deploy/host/sources.sh anyip) and the
# target host routes it back through that agent host. The plan lists the
# prefix itself; every connection comes from its own address.
#
# Prints the coordinator's progress and summary, writes the report (default
# ./netns-lab-report.json) and exits with the coordinator's exit code; 2 for a
# bad argument, 3 when the lab could not be built or a process did not start.
# Everything it made (processes, namespaces, temp dir) is removed on exit,
# whatever happens — unless --keep, which leaves the lab running and prints
# how to remove it. Binaries come from $FOURTUPLE_BIN or build/bin.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FOURTUPLE_BIN:-$repo/build/bin}
agents=0 connections=0 sources=8 report="$PWD/netns-lab-report.json" keep=0 ipv6=0

usage_error() { echo "lab.sh: $*; usage: lab.sh --agents N --connections M [--report FILE] [--sources-per-agent K] [--ipv6] [--keep]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agents) [[ $# -ge 2 ]] || usage_error "--agents needs a value"; agents=$2; shift 2 ;;
    --connections) [[ $# -ge 2 ]] || usage_error "--connections needs a value"; connections=$2; shift 2 ;;
    --sources-per-agent) [[ $# -ge 2 ]] || usage_error "--sources-per-agent needs a value"; sources=$2; shift 2 ;;
    --report) [[ $# -ge 2 ]] || usage_error "--report needs a value"; report=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --ipv6) ipv6=1; shift ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
is_count() { [[ $1 =~ ^[1-9][0-9]{0,8}$ ]] && (( $1 >= $2 && $1 <= $3 )); }
# Agent host i is 198.18.i.1: at most 250 hosts. Its aliases are 198.18.i.2..(K+1).
is_count "$agents" 1 250 || usage_error "--agents must be a whole number 1..250 (got '$agents')"
is_count "$connections" 1 100000000 || usage_error "--connections must be a whole number >= 1 (got '$connections')"
is_count "$sources" 1 253 || usage_error "--sources-per-agent must be a whole number 1..253 (got '$sources')"
[[ $report == /* ]] || report="$PWD/$report"
(( EUID == 0 )) || { echo "lab.sh: must run as root (it creates network namespaces)" >&2; exit 3; }
for program in target-server agent coordinator; do
  [[ -x $bin/$program ]] || { echo "lab.sh: no $bin/$program; build first (scripts/build.sh) or set FOURTUPLE_BIN" >&2; exit 3; }
done

# Unique per run, so parallel labs never collide: ftlabPID-NAME.
prefix="ftlab$$"
namespaces=()   # every namespace made, removed on exit
pids=()         # every lab process started, ended on exit
work=$(mktemp -d /tmp/fourtuple-lab.XXXXXX)

# The last lines of every process's log, so a failed run explains itself
# after the temp dir is gone.
show_logs() {
  local log
  for log in "$work"/*.err; do
    [[ -s $log ]] || continue
    echo "--- ${log##*/} (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
}

teardown() {
  local status=$? pid ns deadline
  trap - EXIT INT TERM
  # Only PIDs that are still our running jobs: an exited one's PID may be reused.
  local running=()
  for pid in $(jobs -pr); do [[ " ${pids[*]} " == *" $pid "* ]] && running+=("$pid"); done
  if (( keep )); then
    echo "lab.sh: --keep: lab left running. Processes: ${running[*]:-none}; namespaces: ${namespaces[*]:-none}; files: $work"
    echo "lab.sh: remove it with: kill ${running[*]:-}; for n in ${namespaces[*]:-}; do ip netns del \$n; done; rm -rf $work"
    exit "$status"
  fi
  for pid in "${running[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 15))
  for pid in "${running[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  # Anything still inside our namespaces (e.g. a worker of a killed agent) is
  # ours too: end it by PID before the namespace goes.
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  # Deleting a namespace deletes the veth ends inside it, and with them their peers.
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || echo "lab.sh: could not delete namespace $ns" >&2; done
  (( status == 0 )) || show_logs
  rm -rf "$work"
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "lab.sh: $*" >&2; exit 3; }

add_namespace() {  # NAME
  ip netns add "$prefix-$1" || fail "cannot create network namespace $prefix-$1"
  namespaces+=("$prefix-$1")
  ip -n "$prefix-$1" link set lo up
}

# Per-namespace sysctls: a fresh namespace starts at the kernel defaults
# (28,232 ephemeral ports, somaxconn 4096), and these never touch the host's.
tune_namespace() {  # NAME
  ip netns exec "$prefix-$1" sysctl -q -w \
    net.ipv4.ip_local_port_range="1024 65535" \
    net.core.somaxconn=65535 \
    net.ipv4.tcp_max_syn_backlog=65535 >/dev/null || fail "cannot set sysctls in $prefix-$1"
}

# Host NAME gets interface eth0 with ADDRESS/15, cabled to the bridge.
attach_host() {  # NAME PORT ADDRESS
  ip -n "$prefix-sw" link add "$2" type veth peer name eth0 netns "$prefix-$1" || fail "cannot cable $1"
  ip -n "$prefix-sw" link set "$2" master br0 up
  ip -n "$prefix-$1" addr add "$3/15" dev eth0
  ip -n "$prefix-$1" link set eth0 up
}

# Starts a program inside a namespace, then waits for its ready file: the
# programs write it once they listen. `ip netns exec` execs the program
# itself, so $! is its PID.
start_in() {  # NAME LOG READY PROGRAM ARGS...
  local ns=$prefix-$1 log=$2 ready=$3
  shift 3
  ip netns exec "$ns" "$@" >"$work/$log.out" 2>"$work/$log.err" &
  local pid=$!
  pids+=("$pid")
  local deadline=$((SECONDS + 30))
  until [[ -s $ready ]]; do
    kill -0 "$pid" 2>/dev/null || fail "$log exited before it was ready: $(tail -n 5 "$work/$log.err")"
    (( SECONDS < deadline )) || fail "$log wrote no ready file within 30s"
    sleep 0.05
  done
}

if (( ipv6 )); then
  echo "lab.sh: building lab $prefix (IPv6): laptop, target, $agents agent host(s) with a /64 each"
else
  echo "lab.sh: building lab $prefix: laptop, target, $agents agent host(s) with $sources source address(es) each"
fi
add_namespace sw
ip -n "$prefix-sw" link add br0 type bridge
ip -n "$prefix-sw" link set br0 up
add_namespace laptop
attach_host laptop p0 198.19.0.1
add_namespace target
attach_host target t0 198.18.0.1
for i in $(seq 1 "$agents"); do
  add_namespace "agent$i"
  attach_host "agent$i" "a$i" "198.18.$i.1"
  for s in $(seq 2 $((sources + 1))); do
    ip -n "$prefix-agent$i" addr add "198.18.$i.$s/32" dev eth0 || fail "cannot add 198.18.$i.$s to agent$i"
  done
done
for host in laptop target $(seq -f 'agent%g' 1 "$agents"); do tune_namespace "$host"; done

# IPv6: LAN addresses (nodad: usable at once, no duplicate detection wait),
# and per agent host a /64 of its own, local there and routed back to it by
# the target host.
lan6() { echo "2001:db8:ff::$1"; }
agent_prefix6() { printf '2001:db8:1%02x::/64' "$1"; }
if (( ipv6 )); then
  ip -n "$prefix-laptop" addr add "$(lan6 100)/64" dev eth0 nodad
  ip -n "$prefix-target" addr add "$(lan6 1)/64" dev eth0 nodad
  for i in $(seq 1 "$agents"); do
    ip -n "$prefix-agent$i" addr add "$(lan6 "1:$(printf %x "$i")")/64" dev eth0 nodad
    ip netns exec "$prefix-agent$i" "$repo/deploy/host/sources.sh" anyip add lo "$(agent_prefix6 "$i")" >/dev/null ||
      fail "cannot make $(agent_prefix6 "$i") local on agent$i"
    ip -n "$prefix-target" -6 route add "$(agent_prefix6 "$i")" via "$(lan6 "1:$(printf %x "$i")")" ||
      fail "cannot route $(agent_prefix6 "$i") back to agent$i"
  done
fi

# One secret for every agent, target-server's control and the coordinator:
# their gRPC listens on non-loopback addresses, which needs a token.
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token")

# target-server: each worker holds up to its fd limit, so enough of them for
# every connection, plus one spare.
per_process=$(( $(ulimit -n) - 100 ))
target_processes=$(( (connections + per_process - 1) / per_process + 1 ))
(( target_processes >= 2 )) || target_processes=2
target_host=198.18.0.1
(( ipv6 )) && target_host="[$(lan6 1)]"
start_in target target-server "$work/target.ready" "$bin/target-server" \
  --listen="$target_host:9000" --control="$target_host:9001" --processes="$target_processes" \
  --token-file="$work/token" --ready-file="$work/target.ready"

agent_entries=""
for i in $(seq 1 "$agents"); do
  agent_host="198.18.$i.1" allow=198.18.0.0/15 agent_sources="198.18.$i.2-198.18.$i.$((sources + 1))"
  if (( ipv6 )); then
    agent_host="[$(lan6 "1:$(printf %x "$i")")]" allow=2001:db8:ff::/64 agent_sources=$(agent_prefix6 "$i")
  fi
  start_in "agent$i" "agent$i" "$work/agent$i.ready" "$bin/agent" \
    --listen="$agent_host:7000" --allow-targets="$allow" --token-file="$work/token" \
    --host-label="lab-agent$i" --ready-file="$work/agent$i.ready"
  [[ -n $agent_entries ]] && agent_entries+=","
  agent_entries+="
    {\"endpoint\": \"$agent_host:7000\", \"source_addresses\": [\"$agent_sources\"]}"
done

cat >"$work/plan.json" <<PLAN
{
  "target": {"endpoints": ["$target_host:9000"], "control": "$target_host:9001"},
  "agents": [$agent_entries
  ],
  "connections": $connections,
  "connect_rate": 0,
  "max_in_flight": 2048,
  "connect_timeout": "10s",
  "ramp_timeout": "300s",
  "hold": "2s",
  "echo": {"rounds": 1, "payload_bytes": 32, "interval": "1s", "timeout": "10s"},
  "report_interval": "1s",
  "lease": "15s"
}
PLAN

echo "lab.sh: running the coordinator in $prefix-laptop"
# In the background so a signal to this script reaches the coordinator, which
# then closes the run and still writes its report.
ip netns exec "$prefix-laptop" "$bin/coordinator" run --plan="$work/plan.json" --report="$report" \
  --token-file="$work/token" 2> >(tee "$work/coordinator.err" >&2) &
coordinator=$!
pids+=("$coordinator")
trap 'kill -INT "$coordinator" 2>/dev/null || true' INT TERM
status=0
while true; do
  wait "$coordinator" && status=0 || status=$?
  kill -0 "$coordinator" 2>/dev/null || break  # still running: the wait was cut short by a signal
done
trap 'exit 130' INT
trap 'exit 143' TERM
echo "lab.sh: report $report (coordinator exit $status)"
exit "$status"
