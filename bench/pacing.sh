#!/usr/bin/env bash
# Connect latency at matched rates: fourtuple against an evenly paced client.
#
# Starts one target-server on loopback, then for each rate runs (1) a
# fourtuple run (one agent, connect_rate = RATE, RATE x SECONDS connections
# from 8 source addresses 127.0.1.1-8, no echo, no hold) and (2) the floor:
# bench/floor/paced_client.c, which connects at exactly the same rate from 8
# source addresses 127.0.2.1-8 and records each connect's latency from its
# connect() call. Both measure from the connect() call to the handshake's
# end; fourtuple also reports the time connections waited in its own queue
# (latency_ms.connect_queue). Prints p50/p99/p99.9 side by side and the
# ratio of the p99s; the target is fourtuple's p99 within 2x the floor's (or
# 0.5 ms, whichever is larger).
#
# usage: bench/pacing.sh [--rates=5000,20000,50000] [--seconds=2]
#          [--target-processes=auto] [--agent-processes=auto] [--bin=DIR] [--keep]
# target-server gets enough processes to hold the largest run (each holds up
# to ~19,000 connections under the 20,000 fd limit) unless told otherwise.
# On a machine shared with other runs, hold a lock so that big runs do not
# overlap: flock /tmp/fourtuple-bench.lock bench/pacing.sh ...
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rates="5000,20000,50000"
seconds=2
target_processes=auto
agent_processes=auto
bin="$repo/build/bin"
keep=0
for arg in "$@"; do
  case "$arg" in
    --rates=*) rates="${arg#*=}" ;;
    --seconds=*) seconds="${arg#*=}" ;;
    --target-processes=*) target_processes="${arg#*=}" ;;
    --agent-processes=*) agent_processes="${arg#*=}" ;;
    --bin=*) bin="${arg#*=}" ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pacing.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "pacing.sh: --seconds expects a whole number >= 1, got '$seconds'" >&2; exit 2; }
[[ "$rates" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "pacing.sh: --rates expects RATE[,RATE...], got '$rates'" >&2; exit 2; }
for program in target-server agent coordinator; do
  [[ -x "$bin/$program" ]] || { echo "pacing.sh: no $program in $bin (build first, or --bin=DIR)" >&2; exit 2; }
done

IFS=, read -r -a rate_list <<< "$rates"
if [[ "$target_processes" == auto ]]; then
  largest=0
  for rate in "${rate_list[@]}"; do (( rate * seconds > largest )) && largest=$(( rate * seconds )); done
  target_processes=$(( largest / 15000 + 1 ))
  (( target_processes < 2 )) && target_processes=2
fi

work="$(mktemp -d /tmp/pacing.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if (( keep )); then echo "files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The floor holds its pending connects open: room for a burst of them.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
gcc -O2 -Wall -Wextra -Werror -o "$work/paced_client" "$here/floor/paced_client.c"

wait_ready() {  # FILE NAME
  for _ in $(seq 1 200); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  echo "pacing.sh: $2 did not start" >&2; cat "$work/$2.err" >&2; exit 1
}
"$bin/target-server" --listen=127.0.0.1:0 --processes="$target_processes" --control=127.0.0.1:0 \
  --ready-file="$work/target.ready" > "$work/target.out" 2> "$work/target.err" &
pids+=($!)
wait_ready "$work/target.ready" target
"$bin/agent" --listen=127.0.0.1:0 --processes="$agent_processes" --ready-file="$work/agent.ready" \
  > "$work/agent.out" 2> "$work/agent.err" &
pids+=($!)
wait_ready "$work/agent.ready" agent
target="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$work/target.ready")"
agent="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"][0])' "$work/agent.ready")"
port="${target##*:}"

echo "pacing: target-server $target ($target_processes processes), agent $agent (--processes=$agent_processes)," \
     "$seconds s per rate, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-10s %9s %9s %9s %9s %10s\n' rate client p50_ms p99_ms p99.9_ms max_ms queued_p99
for rate in "${rate_list[@]}"; do
  n=$(( rate * seconds ))
  cat > "$work/plan.$rate.json" <<PLAN
{"target": {"endpoints": ["$target"]},
 "agents": [{"endpoint": "$agent", "source_addresses": ["127.0.1.1-127.0.1.8"]}],
 "connections": $n, "connect_rate": $rate, "max_in_flight": 4096,
 "connect_timeout": "10s", "ramp_timeout": "60s", "hold": "0s",
 "echo": {"rounds": 0}, "report_interval": "1s", "lease": "10s"}
PLAN
  set +e
  "$bin/coordinator" run --plan="$work/plan.$rate.json" --report="$work/report.$rate.json" \
    > "$work/run.$rate.out" 2> "$work/run.$rate.err"
  set -e
  python3 - "$work/report.$rate.json" "$rate" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, q = r["latency_ms"]["connect"], r["latency_ms"].get("connect_queue", {})
f = lambda v: "n/a" if v is None else "%.3f" % v
print("%-8s %-10s %9s %9s %9s %9s %10s   (%s, %d established, %.0f conn/s)" % (
    sys.argv[2], "fourtuple", f(c["p50"]), f(c["p99"]), f(c["p999"]), f(c["max"]), f(q.get("p99")),
    r["outcome"], r["totals"]["established"], r["totals"]["connect_rate"]))
PY
  set +e
  "$work/paced_client" -p "$port" -r "$rate" -n "$n" -s 8 -w 4096 > "$work/floor.$rate.out" 2>&1
  set -e
  python3 - "$work/floor.$rate.out" "$rate" "$work/report.$rate.json" <<'PY'
import json, re, sys
line = open(sys.argv[1]).read()
v = dict(re.findall(r"(\w+)=([0-9.]+)", line))
if "p99_ms" not in v:
    print("%-8s %-10s failed: %s" % (sys.argv[2], "floor", line.strip())); sys.exit(0)
print("%-8s %-10s %9s %9s %9s %9s %10s   (%s established, late at worst %s ms)" % (
    sys.argv[2], "floor", v["p50_ms"], v["p99_ms"], v["p999_ms"], v["max_ms"], "-", v["established"],
    v["late_ms_max"]))
ours = json.load(open(sys.argv[3]))["latency_ms"]["connect"]["p99"]
floor = float(v["p99_ms"])
bound = max(2 * floor, 0.5)
print("%-8s %-10s p99 ratio %.2fx; target <= %.3f ms: %s" % (
    sys.argv[2], "", (ours / floor) if floor > 0 and ours is not None else float("nan"), bound,
    "met" if ours is not None and ours <= bound else "NOT met"))
PY
done
