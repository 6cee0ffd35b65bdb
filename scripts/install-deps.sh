#!/usr/bin/env bash
# Installs, from Debian 12's packages only, whatever fourtuple needs to build
# and test that is not installed yet. Idempotent and quiet when all is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  iproute2 procps python3
  # issue 4: Prometheus endpoint (civetweb) and the Redis send/expect e2e test
  libcivetweb-dev redis-server
  # issue 5: libFuzzer targets for the plan and address parsers
  clang libfuzzer-14-dev
  # issue 6: deploy/ checks (systemd-analyze verify, ansible-playbook --syntax-check)
  systemd ansible
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
