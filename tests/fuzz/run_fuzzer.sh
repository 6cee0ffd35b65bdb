#!/bin/sh
# Runs one libFuzzer target for a bounded time, as a ctest test:
#   run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS [DICT]
# New inputs go to WORK_DIR/corpus (the seeds in the repo stay as they are); a
# crash leaves WORK_DIR/crash-* and fails the test: copy it into
# tests/fuzz/regressions/<target>/ so fuzz_corpus_test replays it in the
# normal build, then fix the bug.
set -eu
fuzzer=$1 seeds=$2 work=$3 seconds=$4 dict=${5:-}
rm -rf "$work"
mkdir -p "$work/corpus"
set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$work/"
if [ -n "$dict" ]; then set -- "$@" -dict="$dict"; fi
exec "$fuzzer" "$@" "$work/corpus" "$seeds"
