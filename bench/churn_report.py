#!/usr/bin/env python3
"""Prints bench/churn.sh's figures from its work folder.

usage: churn_report.py WORK N CHURN_SECONDS
Exit 0 when every run present passed its checks, else 1.
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stats_lines(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out


def exit_code(directory):
    try:
        with open(os.path.join(directory, "coordinator.rc")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def churn(work, n, seconds):
    d = os.path.join(work, "churn")
    report = load(os.path.join(d, "report.json"))
    if report is None:
        print("churn: no report (exit %s)" % exit_code(d))
        return False
    lines = stats_lines(os.path.join(d, "target1.out"))
    ramp = next((s["t"] for s in lines if s.get("open", 0) >= n), None)
    window = [s["open"] for s in lines
              if ramp is not None and ramp <= s["t"] <= ramp + seconds and not s.get("final")]
    low = min(window) if window else 0
    totals = report.get("totals", {})
    accepted = report.get("target", {}).get("accepted")
    churned = totals.get("churned", 0)
    print("churn: outcome %s (exit %s), churned %d in %d s (%.0f/s), target open min %d of %d (%.2f%%)"
          " over %d samples"
          % (report.get("outcome"), exit_code(d), churned, seconds, churned / seconds, low, n,
             100.0 * low / n, len(window)))
    print("       target accepted %s, N + churned %d; connect of N %.1f s (%.0f/s)"
          % (accepted, n + churned, totals.get("connect_seconds", 0), totals.get("connect_rate", 0)))
    return report.get("outcome") == "pass" and low >= 0.95 * n


def restart(work, n):
    d = os.path.join(work, "restart")
    report = load(os.path.join(d, "report.json"))
    if report is None:
        print("restart: no report (exit %s)" % exit_code(d))
        return False
    facts = {}
    try:
        with open(os.path.join(d, "facts")) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                facts[key] = float(value)
    except (OSError, ValueError):
        pass
    totals = report.get("totals", {})
    recovery = report.get("recovery", {})
    s = recovery.get("seconds_to_recover", {})
    connect_s = totals.get("connect_seconds", 0)
    storm_s = recovery.get("seconds_to_all_open", 0)
    # Seen from outside: the new target's open count back at N, from the SIGTERM.
    back = next((x["t"] for x in stats_lines(os.path.join(d, "target2.out")) if x.get("open", 0) >= n), None)
    outside = back - facts["kill"] if back is not None and "kill" in facts else None
    plain_rate = n / connect_s if connect_s else 0
    storm_rate = n / storm_s if storm_s else 0
    ratio = storm_rate / plain_rate if plain_rate else 0
    print("restart: outcome %s (exit %s), drops %s, reconnected %s, open at end %s, target restarts %s"
          % (report.get("outcome"), exit_code(d), recovery.get("drops"), totals.get("reconnected"),
             totals.get("open_at_end"), report.get("target", {}).get("restarts")))
    print("         target away %.2f s (SIGTERM to the new one ready; the old one exited after %.2f s)"
          % (facts.get("new_target_ready", 0) - facts.get("kill", 0),
             facts.get("old_target_exited", 0) - facts.get("kill", 0)))
    print("         recovery p50 %.2f s, p99 %.2f s, max %.2f s; storm (first drop to all open) %.2f s%s"
          % (s.get("p50", 0), s.get("p99", 0), s.get("max", 0), storm_s,
             "" if outside is None else "; target open back at N %.2f s after the SIGTERM" % outside))
    print("         plain connect of N in the same run %.2f s (%.0f/s); storm %.0f/s: ratio %.2f (aim >= 0.8)"
          % (connect_s, plain_rate, storm_rate, ratio))
    # The storm less the time the target was away: from the new target ready
    # (it listens again) to its open count back at N, the reconnect rate the
    # agents and the target reached once there was something to reconnect to.
    if back is not None and "new_target_ready" in facts:
        after = back - facts["new_target_ready"]
        rate = n / after if after > 0 else 0
        print("         from the new target ready to N open again %.2f s (%.0f/s): ratio to the plain connect %.2f"
              % (after, rate, rate / plain_rate if plain_rate else 0))
    return report.get("outcome") == "pass" and totals.get("reconnected") == n


def main():
    work, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ok = True
    if os.path.isdir(os.path.join(work, "churn")):
        ok = churn(work, n, seconds) and ok
    if os.path.isdir(os.path.join(work, "restart")):
        ok = restart(work, n) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
