#!/usr/bin/env bash
# The README's demo: installs what is missing, builds, and runs 8,000
# connections from two agents (4 loopback source addresses each) through a
# 2-process target-server, echo-checked twice; prints the summary and report.
set -euo pipefail
exec "$(dirname "$0")/local-run.sh" --connections 8000 --agents 2 --sources-per-agent 4 "$@"
