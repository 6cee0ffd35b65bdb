#!/usr/bin/env bash
# Checks deploy/grafana/fourtuple.json against the metrics the programs really
# export: starts target-server and agent with --metrics on 127.0.0.1:0, scrapes
# both /metrics pages, and fails naming every metric a panel or a template
# variable queries that neither exports (a histogram exports NAME_bucket,
# NAME_sum and NAME_count). Also: the JSON parses, every panel but a row has a
# Prometheus datasource and at least one target with an expr, every target
# names the same datasource, and every expr queries at least one fourtuple_
# metric (a misspelt prefix would otherwise pass unnoticed).
# Usage: grafana_dashboard_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
source_dir=$1
bin_dir=$2
dashboard="$source_dir/deploy/grafana/fourtuple.json"

for program in agent agent-worker target-server; do
  [[ -x $bin_dir/$program ]] || { echo "FAIL: $bin_dir/$program not built"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/ft-grafana.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$bin_dir/target-server" --listen=127.0.0.1:0 --metrics=127.0.0.1:0 \
  --ready-file="$work/target.json" >"$work/target.log" 2>&1 &
pids+=($!)
"$bin_dir/agent" --listen=127.0.0.1:0 --metrics=127.0.0.1:0 \
  --ready-file="$work/agent.json" >"$work/agent.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  [[ -s $work/target.json && -s $work/agent.json ]] && break
  sleep 0.1
done
for program in target agent; do
  if [[ ! -s $work/$program.json ]]; then
    echo "FAIL: $program wrote no ready file within 10 s:"
    cat "$work/$program.log"
    exit 1
  fi
  address=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["metrics"])' "$work/$program.json")
  curl -fsS --max-time 10 "http://$address/metrics" >"$work/$program.metrics"
done

python3 - "$dashboard" "$work/target.metrics" "$work/agent.metrics" <<'PY'
import json
import re
import sys

dashboard_path, *scrapes = sys.argv[1:]
errors = []

exported = set()
for scrape in scrapes:
    for line in open(scrape, encoding="utf-8"):
        match = re.match(r"# TYPE (\S+) (\S+)", line)
        if not match:
            continue
        name, kind = match.groups()
        exported.add(name)
        if kind == "histogram":
            exported.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
if not any(n.startswith("fourtuple_target_") for n in exported) or \
   not any(n.startswith("fourtuple_agent_") for n in exported):
    sys.exit(f"FAIL: the scrapes lack target or agent metrics: {sorted(exported)}")

try:
    dashboard = json.load(open(dashboard_path, encoding="utf-8"))
except ValueError as error:
    sys.exit(f"FAIL: {dashboard_path} is not JSON: {error}")

variables = dashboard.get("templating", {}).get("list", [])
ds_variables = [v["name"] for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
if not ds_variables:
    errors.append("no Prometheus datasource template variable")
datasource_uids = {"${%s}" % name for name in ds_variables}

# Metric names: identifiers with the programs' prefix. Anything else in an expr
# (functions, label names, $variables) is not a metric; an expr without one is
# an error below.
metric_re = re.compile(r"(?<![A-Za-z0-9_:$])[A-Za-z_:][A-Za-z0-9_:]*")
def metrics_in(expr):
    names = set()
    # Drop string literals ("..."), whose contents are label values.
    for name in metric_re.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)):
        if name.startswith("fourtuple") or name.startswith("fourtupel"):
            names.add(name)
    return names

queried = {}
def check_expr(where, expr):
    names = metrics_in(expr)
    if not names:
        errors.append(f"{where}: expr queries no fourtuple metric: {expr}")
    for name in names:
        queried.setdefault(name, []).append(where)

def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))

count = 0
for panel in panels(dashboard.get("panels", [])):
    if panel.get("type") == "row":
        continue
    count += 1
    where = f"panel {panel.get('id')} \"{panel.get('title')}\""
    datasource = panel.get("datasource") or {}
    if datasource.get("type") != "prometheus" or datasource.get("uid") not in datasource_uids:
        errors.append(f"{where}: datasource {datasource} is not the Prometheus variable {sorted(datasource_uids)}")
    targets = panel.get("targets") or []
    if not targets:
        errors.append(f"{where}: no targets")
    for target in targets:
        twhere = f"{where} target {target.get('refId')}"
        if (target.get("datasource") or {}).get("uid") not in datasource_uids:
            errors.append(f"{twhere}: datasource {target.get('datasource')} is not the Prometheus variable")
        if not target.get("expr"):
            errors.append(f"{twhere}: no expr")
            continue
        check_expr(twhere, target["expr"])
if count == 0:
    errors.append("no panels")

for variable in variables:
    if variable.get("type") != "query":
        continue
    query = variable.get("query")
    query = query.get("query") if isinstance(query, dict) else query
    check_expr(f"variable {variable.get('name')}", query or "")

for name in sorted(set(queried) - exported):
    errors.append(f"{name} is queried ({', '.join(queried[name])}) but neither program exports it")

if errors:
    print("FAIL: " + dashboard_path)
    for error in errors:
        print("  " + error)
    sys.exit(1)
print(f"PASS: {count} panels query {len(queried)} metrics, every one exported "
      f"({len(exported)} names exported)")
PY
