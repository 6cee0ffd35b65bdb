#!/usr/bin/env python3
"""scale_snapshot.py OUTFILE LABEL [GROUP=PID[,PID...] ...]
   scale_snapshot.py --watch STATSFILE N BYTES COORDINATOR_PID OUTFILE [GROUP=PID[,PID...] ...]

Appends one JSON line to OUTFILE: the kernel's memory state (/proc/meminfo
Slab, SUnreclaim, MemAvailable, MemFree; /proc/net/sockstat TCP inuse) and,
per GROUP, the summed Rss and Pss of the named processes and all their
descendants (found through /proc/PID/task/*/children, so other programs of
the same name never count). This process and its own ancestors are left out:
floor_client runs its snapshot command as a child of itself. Used by
bench/scale.sh at base (before the run) and during the hold.

--watch stays running while the coordinator (COORDINATOR_PID) runs, reading
target-server's --stats-interval lines in STATSFILE: it takes snapshot
"hold" once open=N and "echo" once bytes_echoed >= BYTES while still open=N,
and writes the coordinator's peak RSS and CPU seconds as a "coordinator"
record at the end. One long-lived process, because on a loaded machine a
poll loop of short-lived commands falls seconds behind.
"""
import json
import os
import sys
import time


def meminfo():
    out = {}
    for line in open("/proc/meminfo"):
        key, value = line.split(":", 1)
        out[key] = int(value.split()[0]) * 1024
    return out


def tcp_inuse():
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("inuse") + 1])
    return 0


def children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return out


def ancestors():
    chain, pid = set(), os.getpid()
    while pid > 1:
        chain.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return chain


def tree(roots, skip):
    seen, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        if pid not in skip:
            seen.append(pid)
        todo += children(pid)
    return seen


def memory(pids):
    rss = pss = count = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            count += 1
        except OSError:
            pass  # exited meanwhile
    return {"rss": rss, "pss": pss, "processes": count}


def snapshot(outfile, label, group_args):
    skip = ancestors()
    mem = meminfo()
    record = {"label": label, "t": time.time(), "slab": mem["Slab"], "sunreclaim": mem["SUnreclaim"],
              "mem_available": mem["MemAvailable"], "mem_free": mem["MemFree"], "tcp_inuse": tcp_inuse(),
              "groups": {}}
    for arg in group_args:
        name, _, pids = arg.partition("=")
        roots = [int(p) for p in pids.split(",") if p]
        record["groups"][name] = memory(tree(roots, skip - set(roots)))
    with open(outfile, "a") as f:
        f.write(json.dumps(record) + "\n")


def last_stats(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue  # a line being written
    return {}


def watch(stats, n, echo_bytes, coordinator, outfile, group_args):
    hwm = cpu = 0
    taken = set()
    hz = os.sysconf("SC_CLK_TCK")
    while os.path.exists(f"/proc/{coordinator}") and "Z" not in state(coordinator):
        line = last_stats(stats)
        if line.get("open") == n:
            if "hold" not in taken:
                snapshot(outfile, "hold", group_args)
                taken.add("hold")
            if "echo" not in taken and line.get("bytes_echoed", 0) >= echo_bytes:
                snapshot(outfile, "echo", group_args)
                taken.add("echo")
        try:
            with open(f"/proc/{coordinator}/status") as f:
                for row in f:
                    if row.startswith("VmHWM:"):
                        hwm = int(row.split()[1]) * 1024
            with open(f"/proc/{coordinator}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / hz
        except OSError:
            pass
        time.sleep(0.1)
    with open(outfile, "a") as f:
        f.write(json.dumps({"label": "coordinator", "peak_rss": hwm, "cpu_seconds": cpu}) + "\n")


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--watch":
        stats, n, echo_bytes, coordinator, outfile = sys.argv[2:7]
        watch(stats, int(n), int(echo_bytes), int(coordinator), outfile, sys.argv[7:])
        return
    if len(sys.argv) < 3:
        sys.exit("usage: scale_snapshot.py OUTFILE LABEL [GROUP=PID[,PID...] ...] (or --watch, see above)")
    snapshot(sys.argv[1], sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()
