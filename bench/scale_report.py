#!/usr/bin/env python3
"""scale_report.py WORKDIR N [JSONFILE]

The table and JSON of bench/scale.sh, from the files its runs left in WORKDIR:
floor_client's output and the floor's snapshots, the coordinator's report and
fourtuple's snapshots (bench/scale_snapshot.py), and the facts file. Exits 1
unless both runs established and echo-verified all N connections (the floor
is left out with --no-floor); the targets (TARGETS) are printed, not enforced.
"""
import json
import os
import re
import sys

# What fourtuple aims for at scale: connect and echo rates at least 0.8x the
# floor's, and user memory per connection under a fixed budget on each side.
TARGETS = {
    "connect_rate": ("ratio", 0.8), "echo_rate": ("ratio", 0.8),
    "server_user_bytes_per_connection": ("max", 64), "client_user_bytes_per_connection": ("max", 128),
}


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def facts(work):
    out = {}
    for line in (read(os.path.join(work, "facts"), "") or "").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def snapshots(path):
    records = {}
    for line in (read(path, "") or "").splitlines():
        record = json.loads(line)
        records[record["label"]] = record
    return records


def memory_figures(records, n):
    """Growth from base to the latest hold-time snapshot, per connection (pair)."""
    base = records.get("base")
    held = records.get("echo") or records.get("hold")
    if base is None or held is None:
        return {}
    per = lambda key, group: (held["groups"][group][key] - base["groups"][group][key]) / n
    return {
        "snapshot": held["label"],
        "server_user_bytes_per_connection": per("rss", "server"),
        "client_user_bytes_per_connection": per("rss", "client"),
        "server_pss_bytes_per_connection": per("pss", "server"),
        "client_pss_bytes_per_connection": per("pss", "client"),
        "server_processes": held["groups"]["server"]["processes"],
        "client_processes": held["groups"]["client"]["processes"],
        "kernel_bytes_per_connection": (held["slab"] - base["slab"]) / n,
        "mem_available_at_hold": held["mem_available"],
    }


def floor_result(work, n, f, hold):
    out = read(os.path.join(work, "floor_client.out"))
    if out is None:
        return None
    match = re.search(r"^RESULT (.*)$", out, re.M)
    fields = dict(kv.split("=", 1) for kv in match.group(1).split()) if match else {}
    result = {
        "established": int(fields.get("established", 0)),
        "verified": int(fields.get("verified", 0)),
        "connect_rate": float(fields.get("conn_per_s", 0)),
        "connect_seconds": float(fields.get("connect_accept_s", 0)),
        "echo_rate": float(fields.get("echo_per_s", 0)),
        "echo_seconds": float(fields.get("echo_s", 0)),
        # floor_client sleeps -H seconds after the echo round: not work.
        "wall_seconds": float(f.get("floor_wall", 0)) - hold,
        "exit": int(read(os.path.join(work, "floor_client.rc"), "1")),
        "load": f.get("floor_load"),
        "sources": int(f.get("floor_sources", 0)),
    }
    result.update(memory_figures(snapshots(os.path.join(work, "floor.snapshots")), n))
    result["failures"] = errors_line(out, "CONNECT")
    for reason, count in errors_line(out, "ECHO").items():
        result["failures"][reason] = result["failures"].get(reason, 0) + count
    result["passed"] = result["exit"] == 0 and result["established"] == n and result["verified"] == n
    return result


def fourtuple_result(work, n, f, hold):
    report = json.loads(read(os.path.join(work, "report.json"), "{}") or "{}")
    totals = report.get("totals", {})
    echo_seconds = float(totals.get("echo_seconds", 0))
    result = {
        "established": int(totals.get("established", 0)),
        "verified": int(totals.get("echo_verified", 0)),
        "connect_rate": float(totals.get("connect_rate", 0)),
        "connect_seconds": float(totals.get("connect_seconds", 0)),
        "echo_rate": float(totals.get("echo_rate", 0)),
        "echo_seconds": echo_seconds,
        # The hold starts at the barrier and the echo round runs inside it:
        # only what is left of it after the echo is idle.
        "wall_seconds": float(f.get("fourtuple_wall", 0))
                        - (max(0.0, hold - echo_seconds) if report.get("outcome") in ("pass", "fail") else 0.0),
        "exit": int(read(os.path.join(work, "coordinator.rc"), "1")),
        "outcome": report.get("outcome", "none"),
        "failures": report.get("failures", {}),
        "notes": report.get("notes", []),
        "what_gave": report.get("what_gave", []),
        "load": f.get("fourtuple_load"),
    }
    agents = report.get("agents", [])
    result["source_addresses_used"] = sum(int(a.get("source_addresses_used", 0)) for a in agents)
    report_path = os.path.join(work, "report.json")
    result["report_bytes"] = os.path.getsize(report_path) if os.path.exists(report_path) else 0
    records = snapshots(os.path.join(work, "fourtuple.snapshots"))
    coordinator = records.get("coordinator", {})
    result["coordinator_peak_rss_bytes"] = coordinator.get("peak_rss", 0)
    result["coordinator_cpu_seconds"] = coordinator.get("cpu_seconds", 0.0)
    result.update(memory_figures(records, n))
    result["passed"] = (result["exit"] == 0 and result["outcome"] == "pass" and result["established"] == n
                        and result["verified"] == n)
    return result


def report_gave(entries, timed_out):
    """The coordinator report's own "what_gave" (coordinator/what_gave.h), as one line."""
    parts = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "limit" not in entry:
            continue
        reasons = entry.get("reasons") or {}
        inside = ", ".join(f"{count:,} x {reason}" for reason, count in reasons.items()) or entry.get("detail", "")
        parts.append(f"{entry['limit']} ({inside})" if inside else str(entry["limit"]))
    if timed_out:
        parts.append("time (the run passed --time-limit)")
    return ", ".join(parts)


# What a failure reason says gave way (docs/plan-and-report.md's failure reasons), for the
# floor's errno counts; fourtuple's report says it itself (report_gave).
GAVE = {"EADDRNOTAVAIL": "ports", "EADDRINUSE": "ports", "EMFILE": "fds", "ENFILE": "fds",
        "ENOMEM": "memory", "ENOBUFS": "memory", "ETIMEDOUT": "time (SYN backlog)",
        "connect_timeout": "time (SYN backlog)", "echo_timeout": "time", "ECONNREFUSED": "accept queue",
        "ECONNRESET": "accept queue", "peer_closed": "target"}


def what_gave(reasons, exit_code, timed_out, notes=()):
    """The limits behind a failed run, most frequent first."""
    counts = {}
    for reason, count in reasons.items():
        if count:
            counts[GAVE.get(reason, reason)] = counts.get(GAVE.get(reason, reason), 0) + count
    out = [f"{limit} ({count})" for limit, count in sorted(counts.items(), key=lambda kv: -kv[1])]
    if any("ramp_timeout" in note for note in notes):
        out.append("time (ramp_timeout passed before every connection was made: connects too slow)")
    if any("echo round" in note for note in notes):
        out.append("time (an echo round did not finish within echo.timeout)")
    if timed_out:
        out.append("time (the run passed --time-limit)")
    elif not out and exit_code == 3:
        out.append("preflight refused the plan")
    return ", ".join(out) or "unknown: see the files (--keep)"


def errors_line(text, prefix):
    """floor_client's "CONNECT errors: EADDRNOTAVAIL=12 ..." as a dict."""
    match = re.search(rf"^{prefix} errors: (.*)$", text or "", re.M)
    if not match or match.group(1).strip() == "none":
        return {}
    return {k: int(v) for k, v in (kv.split("=", 1) for kv in match.group(1).split())}


ROWS = [  # key, label, format
    ("established", "established", "{:.0f}"),
    ("verified", "echo verified", "{:.0f}"),
    ("connect_rate", "connect rate (/s, all established)", "{:.0f}"),
    ("echo_rate", "echo rate (/s, one round)", "{:.0f}"),
    ("wall_seconds", "wall time (s, start to exit, idle hold excluded)", "{:.1f}"),
    ("server_user_bytes_per_connection", "server user B/conn (RSS growth / N)", "{:.1f}"),
    ("client_user_bytes_per_connection", "client user B/conn (RSS growth / N)", "{:.1f}"),
    ("server_pss_bytes_per_connection", "server PSS B/conn", "{:.1f}"),
    ("client_pss_bytes_per_connection", "client PSS B/conn", "{:.1f}"),
    ("kernel_bytes_per_connection", "kernel B/conn pair (Slab growth / N)", "{:.0f}"),
    ("server_processes", "server processes", "{:.0f}"),
    ("client_processes", "client processes", "{:.0f}"),
    ("source_addresses_used", "distinct source addresses used", "{:.0f}"),
    ("report_bytes", "report JSON (bytes)", "{:.0f}"),
]


def main():
    work, n = sys.argv[1], int(sys.argv[2])
    json_path = sys.argv[3] if len(sys.argv) > 3 else ""
    f = facts(work)
    cfg = dict(re.findall(r"(\w+)=('[^']*'|\S+)", read(os.path.join(work, "config.sh"), "")))
    hold = float(cfg.get("hold", 0))
    floor = floor_result(work, n, f, hold)
    ours = fourtuple_result(work, n, f, hold)

    ratios = {}
    if floor:
        for key, _, _ in ROWS[:10]:
            if isinstance(floor.get(key), (int, float)) and floor[key] and key in ours:
                ratios[key] = ours[key] / floor[key]

    print()
    print(f"scale: N={n}  (floor: floor_server/floor_client; fourtuple: target-server/agents)")
    print(f"{'':50} {'floor':>14} {'fourtuple':>14} {'ratio':>8}")
    for key, label, fmt in ROWS:
        a = fmt.format(floor[key]) if floor and key in floor else "-"
        b = fmt.format(ours[key]) if key in ours else "-"
        r = f"{ratios[key]:.2f}" if key in ratios else ""
        print(f"{label:50} {a:>14} {b:>14} {r:>8}")
    print(f"{'coordinator peak RSS (MiB) / CPU (s)':50} {'':>14} "
          f"{ours['coordinator_peak_rss_bytes'] / 2**20:>7.1f} / {ours['coordinator_cpu_seconds']:<4.1f}")
    if floor:
        print(f"load average (1/5/15 min) at start: floor {floor['load']}, fourtuple {ours['load']}")
    else:
        print(f"load average (1/5/15 min) at start: fourtuple {ours['load']}")

    checks = []
    for key, (kind, bound) in TARGETS.items():
        if kind == "ratio" and key in ratios:
            checks.append((f"{key} >= {bound}x floor", ratios[key] >= bound, f"{ratios[key]:.2f}x"))
        elif kind == "max" and key in ours:
            checks.append((f"{key} <= {bound}", ours[key] <= bound, f"{ours[key]:.1f}"))
    print("targets: " + "; ".join(f"{name}: {value} {'met' if ok else 'MISSED'}" for name, ok, value in checks))

    verdict = ours["passed"] and (floor is None or floor["passed"])
    timed_out = f.get("timed_out") == "1"
    if not ours["passed"]:
        ours["gave"] = (report_gave(ours["what_gave"], timed_out)
                        or what_gave(ours["failures"], ours["exit"], timed_out, ours["notes"]))
        print(f"fourtuple: FAILED (coordinator exit {ours['exit']}, outcome {ours['outcome']}, "
              f"failures {json.dumps(ours['failures'])}); what gave: {ours['gave']}")
    if floor and not floor["passed"]:
        floor["gave"] = what_gave(floor["failures"], floor["exit"], timed_out)
        print(f"floor: FAILED (floor_client exit {floor['exit']}, failures {json.dumps(floor['failures'])}); "
              f"what gave: {floor['gave']}")
    print("PASS" if verdict else "FAIL")
    if json_path:
        with open(json_path, "w") as out:
            json.dump({"connections": n, "config": cfg, "floor": floor, "fourtuple": ours, "ratios": ratios,
                       "targets": {name: {"met": ok, "value": value} for name, ok, value in checks},
                       "passed": verdict}, out, indent=2)
            out.write("\n")
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
