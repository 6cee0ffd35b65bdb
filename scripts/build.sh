#!/usr/bin/env bash
# Installs what is missing, then configures and builds into build/ (binaries in build/bin/).
#   scripts/build.sh [--programs] [CMAKE_ARGS...]
# --programs: only what the four programs need (the demo): no test packages,
# no tests built. Without it: everything, tests included (the test command).
# Other arguments go to cmake's configure step (e.g. -DFOURTUPLE_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
build_tests=ON
if [[ ${1:-} == --programs ]]; then
  build_tests=OFF
  shift
  scripts/install-deps.sh --programs
else
  scripts/install-deps.sh
fi
cmake -S . -B build -G Ninja -DFOURTUPLE_BUILD_TESTS=$build_tests "$@" >/dev/null
cmake --build build
