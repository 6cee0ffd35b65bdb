#!/usr/bin/env bash
# Validates deploy/kubernetes: every object against the Kubernetes API schema
# of its kind and the objects against each other (kubernetes-check/validate.js,
# with the npm packages scripts/install-deps.sh puts in
# kubernetes-check/node_modules), then has the built coordinator read the
# plan the coordinator Job would run: it must parse (exit 2 would be a bad
# plan) and stop at resolving the agents' cluster DNS name (exit 3).
# Usage: kubernetes_manifests_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
source_dir=$1
bin_dir=$2
check_dir="$source_dir/tests/deploy/kubernetes-check"

if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed (scripts/install-deps.sh installs nodejs)"
  exit 77
fi
if [[ ! -d $check_dir/node_modules/kubernetes-models ]]; then
  echo "FAIL: $check_dir/node_modules has no kubernetes-models; run scripts/install-deps.sh"
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ft-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT
node "$check_dir/validate.js" "$source_dir/deploy/kubernetes" "$work/plan.json"

status=0
"$bin_dir/coordinator" preflight --plan="$work/plan.json" >"$work/out" 2>"$work/err" || status=$?
if [[ $status -ne 3 ]] || ! grep -q 'plan.agents\[0\].endpoint: dns:///fourtuple-agents' "$work/err"; then
  echo "FAIL: coordinator preflight on the Job's plan exited $status (want 3: parsed, agents' name unresolvable here):"
  cat "$work/out" "$work/err"
  exit 1
fi
echo "PASS: the coordinator reads the Job's plan: $(head -1 "$work/err")"
