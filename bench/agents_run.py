"""Runs the coordinator for bench/agents.sh and measures it from outside.

usage: agents_run.py OUT_DIR TIME_LIMIT -- COORDINATOR ARGS...

Starts the coordinator in a session of its own (this script moves there
too), stamps each line of its stderr with the seconds since
its start (OUT_DIR/coordinator.err.timed), and once it exits writes
OUT_DIR/measured.json: exit code, wall time, peak RSS and CPU time (from
wait4's rusage, so they are the coordinator's own), the time of the line that
says every agent is ready, and the most lines written between two progress
lines (the progress output of one interval, announcements and log lines
included), and how long the coordinator's threads waited for a CPU
(/proc/PID/task/*/schedstat, sampled each second: a coordinator starved of
CPU looks like a stalled one), and the machine's 1-minute load average at
its start and end. The coordinator is killed after TIME_LIMIT
seconds.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

out_dir = sys.argv[1]
time_limit = float(sys.argv[2])
command = sys.argv[sys.argv.index("--") + 1:]
# A session of its own is a scheduler autogroup of its own: on this one
# machine the coordinator (and this script, which reads its output) get
# their share of the CPU beside the thousands of agent and target processes
# (all in the benchmark's session), as the coordinator would on a laptop of
# its own in a lab.
os.setsid()
# ... and with a weight above the rest: on one 2-core machine two thousand
# load processes leave a plain share too small for a control loop that must
# answer each second (its threads waited for a CPU most of the run without
# this). The coordinator uses well under a core, so the others lose little.
try:
    with open("/proc/self/autogroup", "w") as f:
        f.write("-10")
except OSError:
    pass
def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


load_start = load_average()
start = time.monotonic()
child = subprocess.Popen(command, stdout=open(os.path.join(out_dir, "coordinator.out"), "w"),
                         stderr=subprocess.PIPE, text=True, errors="replace")
watchdog = threading.Timer(time_limit, child.kill)
watchdog.start()

run_delay = {}  # thread id -> nanoseconds waited on a run queue, latest sample


def sample_run_delay():
    while child.poll() is None:
        try:
            for tid in os.listdir("/proc/%d/task" % child.pid):
                with open("/proc/%d/task/%s/schedstat" % (child.pid, tid)) as f:
                    run_delay[tid] = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(1)


threading.Thread(target=sample_run_delay, daemon=True).start()
stamped = []
with open(os.path.join(out_dir, "coordinator.err.timed"), "w") as timed:
    for line in child.stderr:
        t = time.monotonic() - start
        stamped.append((t, line.rstrip("\n")))
        timed.write("%.3f %s" % (t, line))
_, status, usage = os.wait4(child.pid, 0)
watchdog.cancel()
wall = time.monotonic() - start
child.returncode = os.waitstatus_to_exitcode(status)

progress = re.compile(r"^\[\s*[0-9.]+s\] .* open [0-9,]+  established ")
ready = re.compile(r"agents? ready after")
lines_per_interval, current, intervals = 0, 0, 0
ready_at = None
for t, line in stamped:
    if ready_at is None and ready.search(line):
        ready_at = t
    current += 1
    if progress.search(line):
        lines_per_interval = max(lines_per_interval, current)
        current = 0
        intervals += 1
lines_per_interval = max(lines_per_interval, current)

json.dump({
    "exit_code": child.returncode,
    "wall_seconds": round(wall, 3),
    "peak_rss_bytes": usage.ru_maxrss * 1024,
    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
    "ready_seconds": None if ready_at is None else round(ready_at, 3),
    "stderr_lines": len(stamped),
    "progress_intervals": intervals,
    "max_lines_per_interval": lines_per_interval,
    "run_delay_seconds": round(sum(run_delay.values()) / 1e9, 3),
    "load_start": load_start,
    "load_end": load_average(),
}, open(os.path.join(out_dir, "measured.json"), "w"), indent=1)
