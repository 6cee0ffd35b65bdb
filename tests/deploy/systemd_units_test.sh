#!/usr/bin/env bash
# Verifies deploy/systemd's units with `systemd-analyze verify` against the
# built binaries: each unit is copied to a temporary folder with
# /usr/bin/fourtuple-PROGRAM replaced by BIN_DIR/PROGRAM (verify checks
# that ExecStart exists and is executable). Any output at all fails: verify
# prints warnings (unknown or misspelt settings, bad specifiers) but still
# exits 0 for most of them.
# Usage: systemd_units_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
source_dir=$1
bin_dir=$2

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (scripts/install-deps.sh installs systemd)"
  exit 77
fi
for program in agent target-server; do
  [[ -x $bin_dir/$program ]] || { echo "FAIL: $bin_dir/$program not built"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/ft-units.XXXXXX")
trap 'rm -rf "$work"' EXIT
for unit in "$source_dir"/deploy/systemd/*.service; do
  sed -e "s|/usr/bin/fourtuple-agent|$bin_dir/agent|g" \
      -e "s|/usr/bin/fourtuple-target-server|$bin_dir/target-server|g" \
      "$unit" >"$work/$(basename "$unit")"
done
if grep -q /usr/bin/fourtuple "$work"/*.service; then
  echo "FAIL: a unit names a binary this test does not map to build/bin:"
  grep -n /usr/bin/fourtuple "$work"/*.service
  exit 1
fi

# A template is verified through an instance of it.
units=("$work/fourtuple-agent@7000.service" "$work/fourtuple-target-server.service")
cp "$work/fourtuple-agent@.service" "$work/fourtuple-agent@7000.service"
status=0
output=$(cd "$work" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "${units[@]}" 2>&1) || status=$?
if [[ $status -ne 0 || -n $output ]]; then
  echo "FAIL: systemd-analyze verify (exit $status):"
  echo "$output"
  exit 1
fi
echo "PASS: ${units[*]##*/} verify cleanly"
