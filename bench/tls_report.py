#!/usr/bin/env python3
"""tls_report.py WORK N M: the table of bench/tls.sh from its runs' files.

Per run (tls, plain, resume): outcome, established and echo-verified
connections, the connect phase's rate (TLS handshakes included), handshake
latency, resumed handshakes, and user memory per held connection: RSS growth
of every target-server (server) and agent (client) process from before the
run to the hold, divided by N. Exit 1 when a run did not pass.
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
    latency = report.get("latency_ms", {}).get("tls_handshake", {})
    return {
        "mode": mode,
        "n": n,
        "outcome": report.get("outcome"),
        "established": totals.get("established", 0),
        "echo_verified": totals.get("echo_verified", 0),
        "connect_seconds": totals.get("connect_seconds", 0),
        "rate": totals.get("connect_rate", 0),
        "tls_handshakes": totals.get("tls_handshakes", 0),
        "tls_resumed": totals.get("tls_resumed", 0),
        "handshake_p50_ms": latency.get("p50"),
        "handshake_p99_ms": latency.get("p99"),
        "client_bytes_per_connection": per("client"),
        "server_bytes_per_connection": per("server"),
        "kernel_bytes_per_connection": (held["slab"] - base["slab"]) / n if base and held else float("nan"),
        "failures": report.get("failures", {}),
    }


def main():
    work, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    runs = [r for r in (run_figures(work, "tls", n), run_figures(work, "plain", n),
                        run_figures(work, "resume", m) if m else None) if r]
    if not runs:
        print("tls: no run finished", file=sys.stderr)
        return 1
    print()
    print(f"{'run':<8}{'N':>9}{'outcome':>9}{'established':>13}{'verified':>10}{'conn/s':>9}"
          f"{'hs p50 ms':>10}{'hs p99 ms':>10}{'resumed':>9}{'agent B/conn':>14}{'server B/conn':>15}{'kernel B/pair':>15}")
    for r in runs:
        p50 = "-" if r["handshake_p50_ms"] is None else f"{r['handshake_p50_ms']:.2f}"
        p99 = "-" if r["handshake_p99_ms"] is None else f"{r['handshake_p99_ms']:.2f}"
        print(f"{r['mode']:<8}{r['n']:>9,}{r['outcome'] or '-':>9}{r['established']:>13,}{r['echo_verified']:>10,}"
              f"{r['rate']:>9,.0f}{p50:>10}{p99:>10}{r['tls_resumed']:>9,}"
              f"{r['client_bytes_per_connection']:>14,.0f}{r['server_bytes_per_connection']:>15,.0f}"
              f"{r['kernel_bytes_per_connection']:>15,.0f}")
    by = {r["mode"]: r for r in runs}
    if "tls" in by and "plain" in by:
        t, p = by["tls"], by["plain"]
        print(f"\nTLS / plain: rate {t['rate'] / p['rate']:.3f}x; TLS adds "
              f"{t['client_bytes_per_connection'] - p['client_bytes_per_connection']:,.0f} B per agent connection and "
              f"{t['server_bytes_per_connection'] - p['server_bytes_per_connection']:,.0f} B per target-server connection "
              f"(KiB: agent {t['client_bytes_per_connection'] / 1024:.2f}, server {t['server_bytes_per_connection'] / 1024:.2f}"
              f" per held TLS connection)")
    if "resume" in by and "tls" in by and by["resume"]["tls_handshakes"]:
        r, t = by["resume"], by["tls"]
        print(f"resume: {r['tls_resumed'] / r['tls_handshakes']:.1%} of handshakes resumed; rate "
              f"{r['rate']:,.0f}/s vs {t['rate']:,.0f}/s full ({r['rate'] / t['rate']:.2f}x)")
    for r in runs:
        if r["failures"]:
            print(f"{r['mode']} failures: {json.dumps(r['failures'])}")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(runs, f, indent=2)
    return 0 if all(r["outcome"] == "pass" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
