# Sourced by the bench scripts before they enter their network namespace:
# the checks and files every run needs, one place for each.

# Exits 3 unless we are root (each run makes a network namespace with its
# own sysctls) and every program named after the directory is built there.
#   require_root_and_programs SCRIPT BIN PROGRAM...
require_root_and_programs() {
  local script="$1" bin="$2"
  shift 2
  [[ $(id -u) == 0 ]] || { echo "$script: needs root (a network namespace with its own sysctls)" >&2; exit 3; }
  local program
  for program in "$@"; do
    [[ -x "$bin/$program" ]] || { echo "$script: no $program in $bin (run scripts/build.sh, or --bin DIR)" >&2; exit 3; }
  done
}

# A throwaway CA (DIR/ca.pem) and a P-256 server certificate for target.test
# (DIR/server.pem, DIR/server.key); openssl's chatter goes to DIR/openssl.log
# and is shown only when it fails.
#   make_bench_certs DIR
make_bench_certs() {
  local dir="$1"
  (
    cd "$dir"
    p256="openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    $p256 -out ca.key
    openssl req -x509 -new -key ca.key -subj /CN=fourtuple-bench-ca -days 2 -out ca.pem
    $p256 -out server.key
    openssl req -new -key server.key -subj /CN=target.test -out server.csr
    echo "subjectAltName=DNS:target.test" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
  ) > "$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
}
