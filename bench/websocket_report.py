#!/usr/bin/env python3
"""websocket_report.py WORK N M: the table of bench/websocket.sh from its runs' files.

Per run (ws, plain, wss): outcome, established and echo-verified
connections, the connect phase's rate (upgrades and TLS handshakes
included), upgrade latency, and user memory per held connection: RSS growth
of every target-server (server) and agent (client) process from before the
run to the hold, divided by N. Exit 1 when a run did not pass.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tls_report import load, run_figures  # noqa: E402  (the same files, the same figures)


def ws_figures(work, mode, n):
    figures = run_figures(work, mode, n)
    if figures is None:
        return None
    report = json.loads(load(os.path.join(work, mode, "report.json")))
    latency = report.get("latency_ms", {}).get("ws_upgrade", {})
    figures["upgrade_p50_ms"] = latency.get("p50")
    figures["upgrade_p99_ms"] = latency.get("p99")
    figures["ws_upgrades"] = report.get("totals", {}).get("ws_upgrades", 0)
    figures["ws_closed_cleanly"] = report.get("totals", {}).get("ws_closed_cleanly", 0)
    return figures


def main():
    work, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    runs = [r for r in (ws_figures(work, "ws", n), ws_figures(work, "plain", n),
                        ws_figures(work, "wss", m) if m else None) if r]
    if not runs:
        print("websocket: no run finished", file=sys.stderr)
        return 1
    print()
    print(f"{'run':<7}{'N':>10}{'outcome':>9}{'established':>13}{'verified':>11}{'conn/s':>9}"
          f"{'upg p50 ms':>11}{'upg p99 ms':>11}{'agent B/conn':>14}{'server B/conn':>15}{'kernel B/pair':>15}")
    for r in runs:
        p50 = "-" if r["upgrade_p50_ms"] is None else f"{r['upgrade_p50_ms']:.2f}"
        p99 = "-" if r["upgrade_p99_ms"] is None else f"{r['upgrade_p99_ms']:.2f}"
        print(f"{r['mode']:<7}{r['n']:>10,}{r['outcome'] or '-':>9}{r['established']:>13,}{r['echo_verified']:>11,}"
              f"{r['rate']:>9,.0f}{p50:>11}{p99:>11}"
              f"{r['client_bytes_per_connection']:>14,.0f}{r['server_bytes_per_connection']:>15,.0f}"
              f"{r['kernel_bytes_per_connection']:>15,.0f}")
    by = {r["mode"]: r for r in runs}
    if "ws" in by and "plain" in by and by["plain"]["rate"]:
        w, p = by["ws"], by["plain"]
        print(f"\nws:// / plain at N={n:,}: connect+upgrade rate {w['rate'] / p['rate']:.3f}x "
              f"({w['rate']:,.0f}/s vs {p['rate']:,.0f}/s); per held ws:// connection "
              f"{w['client_bytes_per_connection']:,.0f} B on the agents and "
              f"{w['server_bytes_per_connection']:,.0f} B on target-server; "
              f"{w['ws_closed_cleanly']:,} closed with a close handshake")
    for r in runs:
        if r["failures"]:
            print(f"{r['mode']} failures: {json.dumps(r['failures'])}")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(runs, f, indent=2)
    return 0 if all(r["outcome"] == "pass" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
