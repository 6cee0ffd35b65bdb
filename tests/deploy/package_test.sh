#!/usr/bin/env bash
# scripts/package.sh on the built programs, then: lintian finds no errors in
# the package (skipped when lintian is not installed), its control fields and
# files are where Debian and the units expect them, and the programs as
# extracted from it (dpkg-deb -x) make a real run on loopback: target-server,
# one agent (which must find fourtuple-agent-worker beside it) and the
# coordinator, 2,000 connections from 127.0.3.1-4. The report must say pass.
# Usage: package_test.sh SOURCE_DIR BIN_DIR
set -euo pipefail
source_dir=$1
bin_dir=$2

for tool in dpkg-deb dpkg-shlibdeps python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (dpkg-dev)"; exit 77; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ft-package.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

deb=$("$source_dir/scripts/package.sh" --bin "$bin_dir" --output "$work")
version=$(sed -n 's/^project(fourtuple VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")
[[ $(basename "$deb") == "fourtuple_${version}_$(dpkg --print-architecture).deb" ]] ||
  fail "package is named $(basename "$deb"), not fourtuple_${version}_ARCH.deb"

# Depends: the shared libraries the programs link, found by dpkg-shlibdeps.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libgrpc++ libprotobuf libstdc++6; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done

lintian_status=skipped
if command -v lintian >/dev/null; then
  # Run as root lintian warns about it; the package is the same either way.
  lintian --fail-on error --allow-root "$deb" >"$work/lintian.out" 2>&1 || {
    cat "$work/lintian.out" >&2; fail "lintian reports errors"; }
  lintian_status=clean
fi

root=$work/root
dpkg-deb -x "$deb" "$root"
for program in coordinator agent agent-worker target-server; do
  path=$root/usr/bin/fourtuple-$program
  [[ -x $path ]] || fail "no /usr/bin/fourtuple-$program in the package"
  # Stripped: no symbol table left.
  ! readelf -S "$path" | grep -q '\.symtab' || fail "/usr/bin/fourtuple-$program is not stripped"
done
for unit in fourtuple-agent@.service fourtuple-target-server.service; do
  [[ -f $root/lib/systemd/system/$unit ]] || fail "no /lib/systemd/system/$unit"
done
grep -q '^ExecStart=/usr/bin/fourtuple-agent ' "$root/lib/systemd/system/fourtuple-agent@.service" ||
  fail "the agent unit does not start /usr/bin/fourtuple-agent"
for file in usr/share/fourtuple/sysctl.d/90-fourtuple.conf \
  usr/share/fourtuple/limits.d/90-fourtuple-limits.conf usr/share/doc/fourtuple/copyright \
  usr/share/doc/fourtuple/changelog.gz usr/share/doc/fourtuple/README.Debian; do
  [[ -f $root/$file ]] || fail "no /$file in the package"
done
# Shipped, not applied: nothing in /etc.
[[ ! -e $root/etc ]] || fail "the package installs into /etc: $(find "$root/etc" -type f)"

# A real run with the extracted programs.
bin=$root/usr/bin
wait_ready() {  # FILE PID
  for _ in $(seq 1 200); do
    [[ -s $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || { cat "$work"/*.err >&2; fail "process $2 exited before it was ready"; }
    sleep 0.05
  done
  fail "no ready file $1"
}
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v[0] if isinstance(v, list) else v)' "$1" "$2"; }

"$bin/fourtuple-target-server" --listen=127.0.0.1:0 --processes=1 --control=127.0.0.1:0 \
  --ready-file="$work/target.json" >"$work/target.out" 2>"$work/target.err" &
pids+=($!)
wait_ready "$work/target.json" "${pids[-1]}"
# No --worker-binary: the agent must find fourtuple-agent-worker beside itself.
"$bin/fourtuple-agent" --listen=127.0.0.1:0 --ready-file="$work/agent.json" 2>"$work/agent.err" &
pids+=($!)
wait_ready "$work/agent.json" "${pids[-1]}"
cat >"$work/plan.json" <<PLAN
{
  "target": {"endpoints": ["$(field "$work/target.json" listen)"],
             "control": "$(field "$work/target.json" control)"},
  "agents": [{"endpoint": "$(field "$work/agent.json" listen)",
              "source_addresses": ["127.0.3.1-127.0.3.4"]}],
  "connections": 2000,
  "connect_rate": 0,
  "hold": "1s",
  "echo": {"rounds": 1, "payload_bytes": 32, "interval": "200ms", "timeout": "10s"},
  "report_interval": "1s"
}
PLAN
status=0
"$bin/fourtuple-coordinator" run --plan="$work/plan.json" --report="$work/report.json" \
  >"$work/coordinator.out" 2>"$work/coordinator.err" || status=$?
outcome=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["outcome"])' "$work/report.json" 2>/dev/null || echo none)
if [[ $status -ne 0 || $outcome != pass ]]; then
  cat "$work/coordinator.out" "$work/coordinator.err" "$work/agent.err" "$work/target.err" >&2
  fail "the packaged programs' run: coordinator exit $status, outcome $outcome"
fi
echo "PASS: $(basename "$deb") (lintian $lintian_status; Depends: $depends) ran 2000 connections: outcome pass"
