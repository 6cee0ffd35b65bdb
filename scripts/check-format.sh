#!/usr/bin/env bash
# Fails, naming each file and line, when a C or C++ source is not formatted as
# .clang-format says. Run by the test suite (ctest: format_check).
#   scripts/check-format.sh        check
#   scripts/check-format.sh --fix  reformat in place
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t sources < <(find proto common target-server agent coordinator tests bench \
  -path tests/deploy/kubernetes-check/node_modules -prune -o \
  -type f \( -name '*.cc' -o -name '*.h' -o -name '*.c' \) -print | LC_ALL=C sort)
if [[ ${1:-} == --fix ]]; then
  clang-format -i "${sources[@]}"
  exit 0
fi
clang-format --dry-run --Werror "${sources[@]}"
echo "check-format: ${#sources[@]} files formatted as .clang-format says"
