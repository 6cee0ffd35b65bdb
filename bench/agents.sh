#!/usr/bin/env bash
# The control-plane benchmark: A real agent processes (one worker process
# each) on loopback, one target-server, and the coordinator over all of them,
# K connections per agent, in a fresh network namespace. Prints, per run: the
# time from the coordinator's start until every agent is ready (probed,
# assigned, READY), until the barrier (every agent connected), the spread
# between the first and the last agent reaching it (as the coordinator saw
# them, so to within one report interval), the coordinator's peak memory and
# average CPU, the report's size, the most lines of progress output in one
# interval, and the run's wall time. See bench/README.md.
#
# usage: bench/agents.sh --agents A --connections-per-agent K [--hold SECONDS]
#          [--report-interval DURATION] [--connect-rate R] [--echo-rate E] [--in-flight W]
#          [--dead D] [--runs N] [--bin DIR] [--keep]
#   --hold S              hold after the barrier (default 5)
#   --connect-rate R      the plan's connect_rate, for all agents together
#                         (default 30000: what this one loopback takes; see
#                         bench/README.md for what happens without a bound)
#   --echo-rate E         the plan's echo.rate, for all agents together
#                         (default 50000: what this one target-server echoes;
#                         unset, a round would be asked of all A x K
#                         connections within echo.interval, 1 s)
#   --in-flight W         connects in flight per agent (default 16)
#   --lease D             the plan's lease (default 120s: on one 2-core machine
#                         two thousand load processes can keep a control
#                         stream waiting for a CPU for tens of seconds)
#   --dead D              D more agents in the plan that nothing answers for
#                         (127.0.0.3, no agent there): the run must stop
#                         before it starts (exit 3) naming all D at once
#   --runs N              coordinator runs over the same agents, one after the
#                         other (default 1): the first meets freshly started
#                         agents, the others agents that have run before
#   --report-interval D   the plan's report_interval (default 1s)
# Exit: 0 the run passed, 1 it did not, 2 bad arguments, 3 refused (memory,
# permissions, missing binaries).
# Above 100 processes, run it under the machine's benchmark lock:
#   flock /tmp/fourtuple-bench.lock bench/agents.sh --agents 1000 --connections-per-agent 1000
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python=/usr/bin/python3
[[ -x "$python" ]] || python="$(command -v python3)"

if [[ "${1:-}" == __inside ]]; then
  # Inside the namespace: loopback up, this namespace's sysctls, then the run.
  work="$2"
  # shellcheck source=/dev/null
  source "$work/config.sh"
  bench_name=agents
  # shellcheck source=bench/netns_inside.sh
  source "$here/netns_inside.sh"
  connections=$(( agents * per_agent ))
  target_processes=$(( (connections + 17999) / 18000 ))
  (( target_processes >= 2 )) || target_processes=2
  "$bin/target-server" --listen=127.0.0.1:47800 --processes="$target_processes" --backlog=65535 \
    --control=127.0.0.1:0 --ready-file="$work/target.json" > "$work/target.out" 2> "$work/target.err" &
  pids+=($!)
  # Every agent at once, then wait for all their ready files.
  t0=$(date +%s.%N)
  for i in $(seq 0 $(( agents - 1 ))); do
    "$bin/agent" --listen=127.0.0.1:0 --processes=1 --ready-file="$work/agents/$i.json" \
      2> "$work/agents/$i.err" &
    pids+=($!)
  done
  for _ in $(seq 1 1200); do
    ready=$(find "$work/agents" -name '*.json' -size +0 | wc -l)
    (( ready == agents )) && [[ -s "$work/target.json" ]] && break
    sleep 0.1
  done
  (( ready == agents )) || { echo "agents: only $ready of $agents agents ready after 120 s" >&2; exit 1; }
  echo "agents: $agents agent processes and target-server (--processes=$target_processes) up in" \
       "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s;" \
       "load $(cut -d' ' -f1-3 /proc/loadavg), MemAvailable $(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) >> 10 )) MiB"
  "$python" - "$work" "$agents" "$per_agent" "$hold" "$report_interval" "$connect_rate" "$in_flight" "$lease" "$echo_rate" "$dead" <<'PY'
import json, sys
work, agents, per_agent, hold, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
connect_rate, in_flight, lease, echo_rate = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8], int(sys.argv[9])
dead = int(sys.argv[10])
target = json.load(open(work + "/target.json"))
entries = []
for i in range(agents):
    endpoint = json.load(open("%s/agents/%d.json" % (work, i)))["listen"][0]
    # One source address of its own per agent: 127.10.x.y.
    entries.append({"endpoint": endpoint,
                    "source_addresses": ["127.10.%d.%d" % (i // 250, i % 250 + 1)]})
# The dead ones spread through the list, each with a source of its own.
for d in range(dead):
    entries.insert(d * len(entries) // dead, {
        "endpoint": "127.0.0.3:%d" % (7000 + d),
        "source_addresses": ["127.11.%d.%d" % (d // 250, d % 250 + 1)]})
plan = {
    "target": {"endpoints": ["127.0.0.1:47800"], "control": target["control"]},
    "agents": entries,
    "connections": (agents + dead) * per_agent,
    "connect_rate": connect_rate,
    "max_in_flight": agents * in_flight,
    "connect_timeout": "30s",
    "ramp_timeout": "120s",
    "hold": hold + "s",
    "echo": {"rounds": 1, "payload_bytes": 16, "interval": "1s", "timeout": "60s", "rate": echo_rate},
    "report_interval": interval,
    "lease": lease,
}
json.dump(plan, open(work + "/plan.json", "w"), indent=1)
PY
  for run in $(seq 1 "$runs"); do
    mkdir -p "$work/run$run"
    set +e
    "$python" "$here/agents_run.py" "$work/run$run" $(( 120 + per_agent * agents / 2000 )) -- "$bin/coordinator" run --plan="$work/plan.json" \
      --report="$work/run$run/report.json" --html="$work/run$run/report.html"
    set -e
    sleep 1  # the agents' lease and close settle between runs
  done
  stop_all
  exit 0
fi

agents="" per_agent="" hold=5 report_interval=1s connect_rate=30000 echo_rate=50000 dead=0 in_flight=16 lease=120s runs=1 bin="$repo/build/bin" keep=0
usage() { sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --agents) agents="${2:-}"; shift 2 ;;
    --connections-per-agent) per_agent="${2:-}"; shift 2 ;;
    --hold) hold="${2:-}"; shift 2 ;;
    --report-interval) report_interval="${2:-}"; shift 2 ;;
    --runs) runs="${2:-}"; shift 2 ;;
    --connect-rate) connect_rate="${2:-}"; shift 2 ;;
    --echo-rate) echo_rate="${2:-}"; shift 2 ;;
    --dead) dead="${2:-}"; shift 2 ;;
    --in-flight) in_flight="${2:-}"; shift 2 ;;
    --lease) lease="${2:-}"; shift 2 ;;
    --bin) bin="${2:-}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "agents.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
positive() {  # FLAG VALUE
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "agents.sh: $1 expects a positive integer, got '$2'" >&2; exit 2; }
}
positive --agents "$agents"
positive --connections-per-agent "$per_agent"
positive --hold "$hold"
positive --runs "$runs"
positive --connect-rate "$connect_rate"
positive --echo-rate "$echo_rate"
[[ "$dead" =~ ^[0-9]+$ ]] || { echo "agents.sh: --dead expects a count, got '$dead'" >&2; exit 2; }
positive --in-flight "$in_flight"
(( agents <= 2000 )) || { echo "agents.sh: --agents expects 1..2000, got $agents" >&2; exit 2; }
(( per_agent <= 18000 )) || { echo "agents.sh: --connections-per-agent expects 1..18000 (one worker process each), got $per_agent" >&2; exit 2; }
source "$here/bench_outside.sh"
require_root_and_programs agents.sh "$bin" target-server agent agent-worker coordinator
# Memory: 10.5 KiB of kernel memory per connection pair (bench/scale.sh),
# ~4 MiB per agent with its worker (about 2.5 MiB of private memory measured
# idle; the rest is shared library pages), 1 GiB for the rest of the run, and 2 GiB
# left to the others on this machine.
connections=$(( agents * per_agent ))
available=$(( $(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024 ))
need=$(( connections * 10752 + agents * (4 << 20) + (3 << 30) ))
if (( need > available )); then
  echo "agents.sh: refusing: $agents agents x $per_agent connections need ~$(( need >> 20 )) MiB but MemAvailable is $(( available >> 20 )) MiB" >&2
  exit 3
fi

work="$(mktemp -d /tmp/fourtuple-agents.XXXXXX)"
mkdir -p "$work/agents"
cleanup() { if (( keep )); then echo "agents: files kept in $work" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
cat > "$work/config.sh" <<CONFIG
agents=$agents per_agent=$per_agent hold=$hold runs=$runs report_interval='$report_interval' connect_rate=$connect_rate echo_rate=$echo_rate dead=$dead in_flight=$in_flight lease='$lease' bin='$bin' python='$python'
CONFIG
echo "agents: A=$agents x K=$per_agent on $(nproc) cores, MemAvailable $(( available >> 20 )) MiB, load $(cut -d' ' -f1-3 /proc/loadavg)"
# A session and process group of its own (the time limit signals the whole
# group), and whatever is left of it afterwards is killed by group id, never
# by name.
# Packets the kernel dropped because a CPU's input backlog was full (the
# loopback's queue, too): the sign of a connect burst larger than this
# machine takes, which stalls the control streams as well.
backlog_drops() { "$python" -c 'print(sum(int(l.split()[1], 16) for l in open("/proc/net/softnet_stat")))'; }
drops_before=$(backlog_drops)
set +e
setsid timeout --kill-after=15 $(( 120 + runs * (180 + connections / 2000) )) \
  unshare --net -- bash "$0" __inside "$work" &
group=$!
wait "$group"
inside=$?
kill -KILL -- "-$group" 2>/dev/null
set -e
echo "agents: input backlog drops during the benchmark (whole machine): $(( $(backlog_drops) - drops_before ))"
(( inside == 0 )) || { echo "agents: the run inside the namespace failed ($inside)" >&2; exit 1; }

"$python" - "$work" "$agents" "$per_agent" "$runs" "$dead" <<'PY'
import json, os, re, sys
work, agents, per_agent, runs, dead = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
failed = False
for run in range(1, runs + 1):
    d = "%s/run%d" % (work, run)
    m = json.load(open(d + "/measured.json"))
    report = json.load(open(d + "/report.json")) if os.path.exists(d + "/report.json") else {}
    timed = open(d + "/coordinator.err.timed").read()
    barrier = re.search(r"^([0-9.]+) .*barrier after .*spread ([0-9.]+) s", timed, re.M)
    size = lambda name: round(os.path.getsize(d + "/" + name) / 2**20, 2) if os.path.exists(d + "/" + name) else None
    row = {
        "run": run, "agents": agents, "connections_per_agent": per_agent,
        "outcome": report.get("outcome", "no report"), "exit_code": m["exit_code"],
        "ready_s": m["ready_seconds"],
        "barrier_s": float(barrier.group(1)) if barrier else None,
        "spread_s": float(barrier.group(2)) if barrier else None,
        "peak_rss_mib": round(m["peak_rss_bytes"] / 2**20, 1),
        "cpu_avg_cores": round(m["cpu_seconds"] / m["wall_seconds"], 2) if m["wall_seconds"] else None,
        "report_mib": size("report.json"), "html_mib": size("report.html"),
        "max_lines_per_interval": m["max_lines_per_interval"],
        "cpu_wait_s": m["run_delay_seconds"],
        "wall_s": m["wall_seconds"],
        "load_start": m.get("load_start"), "load_end": m.get("load_end"),
    }
    if dead:
        # Each dead agent named once, all in the one refusal.
        named = set(re.findall(r"agent (127\.0\.0\.3:[0-9]+) is unreachable", timed))
        row["dead"] = dead
        row["dead_named"] = len(named)
    print("  ".join("%s=%s" % (k, v) for k, v in row.items()))
    print("AGENTS_JSON " + json.dumps(row))
    expected = row["exit_code"] == 3 and row["dead_named"] == dead if dead else row["outcome"] == "pass"
    if not expected:
        failed = True
        sys.stdout.write("".join(timed.splitlines(True)[-30:]))
sys.exit(1 if failed else 0)
PY
