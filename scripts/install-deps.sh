#!/usr/bin/env bash
# Installs, from Debian 12's packages only, whatever fourtuple needs to build
# and test that is not installed yet. Idempotent and quiet when all is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  iproute2 procps python3
  # the /metrics HTTP server (civetweb), and the Redis server the send/expect e2e test runs against
  libcivetweb-dev redis-server
  # clang with libFuzzer, for the fuzz targets of the plan and address parsers (tests/fuzz)
  clang libfuzzer-14-dev
  # the deploy/ checks: systemd-analyze verify on the units, ansible-playbook --syntax-check
  systemd ansible
  # Node.js for the Kubernetes manifest validation (tests/deploy/kubernetes-check)
  nodejs
  # lld: agent-worker's link puts the functions a worker runs first
  # (lld's --symbol-ordering-file; agent/worker/CMakeLists.txt)
  lld
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Debian's nodejs comes without npm (its own package); a nodejs that bundles
# npm conflicts with that package, so it is only asked for when npm is missing.
command -v npm >/dev/null || missing+=(npm)

# The npm packages of the Kubernetes manifest check, pinned by its
# package-lock.json, into its gitignored node_modules (about 10 s, 26 MB).
install_node_modules() {
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
