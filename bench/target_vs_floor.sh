#!/usr/bin/env bash
# target-server against the kernel floor, at N connections on one port.
#
# Builds bench/floor/floor_server.c and floor_client.c into a temporary
# directory, then runs floor_client (N connections from S loopback source
# addresses, Q client processes, each connection echo-verified) first against
# floor_server (P workers: the smallest honest echo server) and then against
# target-server (P processes), and prints one table: connections/s, echo/s,
# echoes verified, user memory per connection (RSS growth of every server
# process, base -> hold and base -> after the echo, divided by N), and the
# open count of target-server's own stats line during the hold.
#
# usage: bench/target_vs_floor.sh [--connections=N] [--processes=P] [--sources=S]
#          [--client-workers=Q] [--in-flight=W] [--target-server=PATH] [--keep]
# Defaults: N=100000 P=8 S=64 Q=8 W=1024, target-server from build/bin.
# Each floor_client worker holds N/Q sockets: keep that under ~19,000 here.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
floor_dir="$here/floor"
connections=100000
processes=8
sources=64
client_workers=8
in_flight=1024
target_server="$repo/build/bin/target-server"
keep=0

for arg in "$@"; do
  case "$arg" in
    --connections=*) connections="${arg#*=}" ;;
    --processes=*) processes="${arg#*=}" ;;
    --sources=*) sources="${arg#*=}" ;;
    --client-workers=*) client_workers="${arg#*=}" ;;
    --in-flight=*) in_flight="${arg#*=}" ;;
    --target-server=*) target_server="${arg#*=}" ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "target_vs_floor.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$connections" "$processes" "$sources" "$client_workers" "$in_flight"; do
  [[ "$value" =~ ^[1-9][0-9]*$ ]] || { echo "target_vs_floor.sh: '$value' is not a positive integer" >&2; exit 2; }
done
[[ -x "$target_server" ]] || { echo "target_vs_floor.sh: no target-server at $target_server (build first, or --target-server=PATH)" >&2; exit 2; }
if (( (connections + client_workers - 1) / client_workers > 19000 )); then
  echo "target_vs_floor.sh: $connections connections over $client_workers client workers exceeds ~19,000 fds per process: raise --client-workers" >&2
  exit 2
fi

work="$(mktemp -d /tmp/target-vs-floor.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if (( keep )); then echo "files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

gcc -O2 -Wall -Wextra -Werror -o "$work/floor_server" "$floor_dir/floor_server.c"
gcc -O2 -Wall -Wextra -Werror -o "$work/floor_client" "$floor_dir/floor_client.c"

# floor_client runs `snap.sh LABEL N` at base, hold (all connected and
# accepted), echo (all verified) and closed. It records the summed RSS of the
# server's processes (the parent and its children, found by pid, so other
# programs of the same name do not count) and, at hold and echo, waits for
# target-server's next stats line and keeps its open count.
cat > "$work/snap.sh" <<'EOF'
#!/usr/bin/env bash
set -u
work="$(dirname "$0")"
label="$1"
pid="$(cat "$work/server.pid")"
pids="$pid $(cat /proc/"$pid"/task/*/children 2>/dev/null)"
rss=0
for p in $pids; do
  kb="$(awk '/^Rss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)"
  rss=$((rss + ${kb:-0} * 1024))
done
echo "$rss" > "$work/rss.$label"
stats="$work/server.out"
if [[ -f "$work/server.stats" && ( "$label" == hold || "$label" == echo ) ]]; then
  before="$(wc -l < "$stats")"
  for _ in $(seq 1 60); do
    [[ "$(wc -l < "$stats")" -gt "$before" ]] && break
    sleep 0.05
  done
  tail -n 1 "$stats" | sed -n 's/.*"open":\([0-9]*\).*/\1/p' > "$work/open.$label"
fi
EOF
chmod +x "$work/snap.sh"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run_client NAME PORT: floor_client against PORT; its output in NAME.client.
run_client() {
  local name="$1" port="$2"
  rm -f "$work"/rss.* "$work"/open.*
  set +e
  "$work/floor_client" -p "$port" -n "$connections" -q "$client_workers" -s "$sources" \
    -w "$in_flight" -H 2 -x "$work/snap.sh" > "$work/$name.client" 2>&1
  local rc=$?
  set -e
  for label in base hold echo; do
    cp "$work/rss.$label" "$work/$name.rss.$label" 2>/dev/null || echo 0 > "$work/$name.rss.$label"
  done
  for label in hold echo; do
    [[ -f "$work/open.$label" ]] && cp "$work/open.$label" "$work/$name.open.$label"
  done
  echo "$rc" > "$work/$name.rc"
}

echo "target_vs_floor: N=$connections server processes=$processes sources=$sources" \
     "client workers=$client_workers in flight=$in_flight ($(nproc) cores," \
     "ip_local_port_range $(tr '\t' '-' < /proc/sys/net/ipv4/ip_local_port_range))"

# --- floor_server ---------------------------------------------------------
port="$(free_port)"
"$work/floor_server" -p "$port" -P "$processes" > "$work/server.out" 2> "$work/floor.err" &
server_pid=$!
echo "$server_pid" > "$work/server.pid"
rm -f "$work/server.stats"
for _ in $(seq 1 200); do grep -q READY "$work/server.out" 2>/dev/null && break; sleep 0.05; done
grep -q READY "$work/server.out" || { echo "floor_server did not start" >&2; cat "$work/floor.err" >&2; exit 1; }
run_client floor "$port"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
cp "$work/server.out" "$work/floor.server"

# --- target-server ----------------------------------------------------------
rm -f "$work/ready.json" "$work/server.out"
"$target_server" --listen=127.0.0.1:0 --processes="$processes" --control=127.0.0.1:0 \
  --stats-interval=500ms --ready-file="$work/ready.json" > "$work/server.out" 2> "$work/target.err" &
server_pid=$!
echo "$server_pid" > "$work/server.pid"
touch "$work/server.stats"
for _ in $(seq 1 200); do [[ -s "$work/ready.json" ]] && break; sleep 0.05; done
[[ -s "$work/ready.json" ]] || { echo "target-server did not start" >&2; cat "$work/target.err" >&2; exit 1; }
port="$(sed -n 's/.*"listen":\["[0-9.]*:\([0-9]*\)".*/\1/p' "$work/ready.json")"
run_client target "$port"
kill -TERM "$server_pid"
set +e; wait "$server_pid"; target_exit=$?; set -e
server_pid=""
cp "$work/server.out" "$work/target.server"

# --- the table --------------------------------------------------------------
field() {  # field NAME KEY: KEY=value from the RESULT line of NAME's client
  sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$work/$1.client"
}
per_conn() {  # per_conn NAME LABEL: (RSS at LABEL - RSS at base) / N
  local base now
  base="$(cat "$work/$1.rss.base")"; now="$(cat "$work/$1.rss.$2")"
  awk -v a="$base" -v b="$now" -v n="$connections" 'BEGIN { printf "%.1f", (b - a) / n }'
}
open_at() { cat "$work/$1.open.$2" 2>/dev/null || echo "-"; }

echo
for name in floor target; do
  echo "--- floor_client against $([[ $name == floor ]] && echo floor_server || echo target-server):"
  grep -E '^(CONNECT|ECHO|RESULT)' "$work/$name.client" | sed 's/^/    /'
done
echo "--- target-server final line: $(tail -n 1 "$work/target.server") (exit $target_exit)"
echo
printf '%-44s %16s %16s\n' "" "floor_server" "target-server"
printf '%-44s %16s %16s\n' "connections/s (connect + accept)" "$(field floor conn_per_s)" "$(field target conn_per_s)"
printf '%-44s %16s %16s\n' "echo/s" "$(field floor echo_per_s)" "$(field target echo_per_s)"
printf '%-44s %16s %16s\n' "established" "$(field floor established)" "$(field target established)"
printf '%-44s %16s %16s\n' "echoes verified" "$(field floor verified)" "$(field target verified)"
printf '%-44s %16s %16s\n' "user bytes/connection, hold (RSS growth / N)" "$(per_conn floor hold)" "$(per_conn target hold)"
printf '%-44s %16s %16s\n' "user bytes/connection, after echo" "$(per_conn floor echo)" "$(per_conn target echo)"
printf '%-44s %16s %16s\n' "server RSS at hold, all processes (MiB)" \
  "$(awk -v b="$(cat "$work/floor.rss.hold")" 'BEGIN { printf "%.1f", b / 1048576 }')" \
  "$(awk -v b="$(cat "$work/target.rss.hold")" 'BEGIN { printf "%.1f", b / 1048576 }')"
printf '%-44s %16s %16s\n' "stats line open, hold / after echo" "-" "$(open_at target hold) / $(open_at target echo)"

ok=1
[[ "$(cat "$work/floor.rc")" == 0 && "$(cat "$work/target.rc")" == 0 ]] || ok=0
[[ "$(field target verified)" == "$connections" ]] || ok=0
[[ "$(open_at target hold)" == "$connections" ]] || ok=0
[[ "$target_exit" == 0 ]] || ok=0
echo
if (( ok )); then
  echo "PASS: target-server held and echo-verified all $connections connections"
else
  echo "FAIL: see the client output above$( (( keep )) || echo '; rerun with --keep for the files')"
  exit 1
fi
