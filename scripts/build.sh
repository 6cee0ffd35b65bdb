#!/usr/bin/env bash
# Installs what is missing, then configures and builds into build/ (binaries in build/bin/).
# Extra arguments go to cmake's configure step (e.g. -DFOURTUPLE_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja "$@" >/dev/null
cmake --build build
