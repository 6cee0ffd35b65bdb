# Sourced by the benchmarks (scale.sh, tls.sh, agents.sh) once they run inside
# their own network namespace: loopback up, this namespace's sysctls (so the
# host's stay untouched), and the process bookkeeping they share. The caller
# sets `work` (its scratch folder) and `bench_name` (the prefix of messages).

ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.core.somaxconn=65535 \
  net.ipv4.tcp_max_syn_backlog=262144

# Every process the benchmark starts, stopped by PID at exit (never by name).
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

# wait_file FILE PID NAME [SECONDS]: waits until the program NAME (started as
# PID, its stderr in $work/NAME.err) has written its ready file FILE; exits
# the benchmark when it died first or took longer than SECONDS (default 20).
wait_file() {
  local tries=$(( ${4:-20} * 20 ))
  for _ in $(seq 1 "$tries"); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "$bench_name: $3 exited before it was ready:" >&2; cat "$work/$3.err" >&2; exit 1; }
    sleep 0.05
  done
  echo "$bench_name: $3 not ready after ${4:-20} s" >&2
  exit 1
}
