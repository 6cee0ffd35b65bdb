#!/usr/bin/env python3
"""conversation_report.py WORK N: the table of bench/conversation.sh.

Per run (plain: the unique-id payload; templated: "GET {id}\\r\\n" sent and
expected): outcome, established and echo-verified connections, the connect
rate, the echo rate (verified per second of the echo round), echo round trip
p50/p99, and user memory per held connection (RSS growth of every agent
(client) and target-server (server) process from before the run to the hold,
divided by N); then templated / plain. Exit 1 when a run did not pass.
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def run_figures(work, mode, n):
    d = os.path.join(work, mode)
    report_text = load(os.path.join(d, "report.json"))
    if report_text is None:
        return None
    report = json.loads(report_text)
    snaps = {}
    for line in (load(os.path.join(d, "snapshots")) or "").splitlines():
        record = json.loads(line)
        snaps[record["label"]] = record
    base, held = snaps.get("base"), snaps.get("echo") or snaps.get("hold")
    per = lambda group: (held["groups"][group]["rss"] - base["groups"][group]["rss"]) / n if base and held else float("nan")
    totals = report.get("totals", {})
    rtt = report.get("latency_ms", {}).get("echo_rtt", {})
    return {
        "mode": mode,
        "n": n,
        "outcome": report.get("outcome"),
        "established": totals.get("established", 0),
        "echo_verified": totals.get("echo_verified", 0),
        "connect_rate": totals.get("connect_rate", 0),
        "echo_rate": totals.get("echo_rate", 0),
        "rtt_p50_ms": rtt.get("p50"),
        "rtt_p99_ms": rtt.get("p99"),
        "client_bytes_per_connection": per("client"),
        "server_bytes_per_connection": per("server"),
        "failures": report.get("failures", {}),
    }


def main():
    work, n = sys.argv[1], int(sys.argv[2])
    runs = [r for r in (run_figures(work, "plain", n), run_figures(work, "templated", n)) if r]
    if not runs:
        print("conversation: no run finished", file=sys.stderr)
        return 1
    print()
    print(f"{'run':<10}{'N':>9}{'outcome':>9}{'established':>13}{'verified':>10}{'conn/s':>9}{'echo/s':>9}"
          f"{'rtt p50 ms':>11}{'rtt p99 ms':>11}{'agent B/conn':>14}{'server B/conn':>15}")
    for r in runs:
        p50 = "-" if r["rtt_p50_ms"] is None else f"{r['rtt_p50_ms']:.2f}"
        p99 = "-" if r["rtt_p99_ms"] is None else f"{r['rtt_p99_ms']:.2f}"
        print(f"{r['mode']:<10}{r['n']:>9,}{r['outcome'] or '-':>9}{r['established']:>13,}{r['echo_verified']:>10,}"
              f"{r['connect_rate']:>9,.0f}{r['echo_rate']:>9,.0f}{p50:>11}{p99:>11}"
              f"{r['client_bytes_per_connection']:>14,.0f}{r['server_bytes_per_connection']:>15,.0f}")
    by = {r["mode"]: r for r in runs}
    if "plain" in by and "templated" in by and by["plain"]["connect_rate"] and by["plain"]["echo_rate"]:
        t, p = by["templated"], by["plain"]
        print(f"\ntemplated / plain: connect rate {t['connect_rate'] / p['connect_rate']:.3f}x, echo rate "
              f"{t['echo_rate'] / p['echo_rate']:.3f}x; agent memory "
              f"{t['client_bytes_per_connection'] - p['client_bytes_per_connection']:+,.0f} B per connection")
    for r in runs:
        if r["failures"]:
            print(f"{r['mode']} failures: {json.dumps(r['failures'])}")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(runs, f, indent=2)
    return 0 if all(r["outcome"] == "pass" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
