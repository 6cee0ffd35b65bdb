#!/usr/bin/env bash
# Installs, from Debian 12's packages only, whatever fourtuple needs that is
# not installed yet. Idempotent and quiet when all is present.
#   scripts/install-deps.sh              everything: build, tests, checks
#   scripts/install-deps.sh --programs   only what building and running the
#                                        four programs needs (the demo)
set -euo pipefail

# Building and running target-server, agent, agent-worker and coordinator.
program_packages=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev nlohmann-json3-dev
  libcivetweb-dev  # the Prometheus /metrics endpoint
  libssl-dev       # TLS on the connection (agent-worker links it statically)
  lld              # agent-worker's link orders its hot functions first
  iproute2 procps python3
)
# The test suite and the repository's checks, on top of those.
test_packages=(
  ccache libgtest-dev libgmock-dev
  clang-format                 # the test command fails on unformatted code
  openssl                      # the TLS and WebSocket tests make their certificates with its CLI
  redis-server                 # a real server for the send/expect and {id} template end-to-end tests
  mosquitto                    # an MQTT broker for the conversation end-to-end test (CONNECT with {id})
  stunnel4                     # a TLS server no one here wrote, for the TLS end-to-end test
  python3-websockets           # a WebSocket server no one here wrote, for the WebSocket end-to-end test
  clang libfuzzer-14-dev       # libFuzzer targets for the plan and address parsers
  systemd ansible              # deploy/ checks: systemd-analyze verify, ansible --syntax-check
  lintian                      # deploy/ check: the Debian package (scripts/package.sh) is lintian-clean
  curl                         # deploy/ check: the Grafana dashboard test scrapes /metrics
  nodejs                       # deploy/ check: Kubernetes manifest validation
)

packages=("${program_packages[@]}")
with_tests=1
if [[ ${1:-} == --programs ]]; then
  with_tests=0
elif [[ $# -gt 0 ]]; then
  echo "install-deps: unknown argument $1 (expected nothing or --programs)" >&2
  exit 2
else
  packages+=("${test_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Debian's nodejs comes without npm (its own package); a nodejs that bundles
# npm conflicts with that package, so it is only asked for when npm is missing.
(( with_tests )) && ! command -v npm >/dev/null && missing+=(npm)

# The npm packages of the Kubernetes manifest check, pinned by its
# package-lock.json, into its gitignored node_modules (about 10 s, 26 MB).
install_node_modules() {
  (( with_tests )) || return 0
  local check_dir
  check_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/deploy/kubernetes-check"
  [[ $check_dir/node_modules/.package-lock.json -nt $check_dir/package-lock.json ]] && return 0
  echo "install-deps: npm ci in $check_dir" >&2
  if ! npm ci --prefix "$check_dir" --no-audit --no-fund --loglevel=error >/dev/null; then
    echo "install-deps: npm ci failed; the deploy_kubernetes_manifests test will fail until it works" >&2
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_node_modules
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_node_modules
