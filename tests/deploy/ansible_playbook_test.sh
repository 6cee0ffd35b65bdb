#!/usr/bin/env bash
# `ansible-playbook --syntax-check` on deploy/ansible/playbook.yml with the
# example inventory, then --list-hosts (every play must find its hosts in
# it). Any warning fails: ansible prints them (an unparsed inventory, an
# unknown group) and still exits 0.
# Usage: ansible_playbook_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
ansible_dir="$source_dir/deploy/ansible"

if ! command -v ansible-playbook >/dev/null; then
  echo "SKIP: ansible-playbook not installed (scripts/install-deps.sh installs ansible)"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ft-ansible.XXXXXX")
trap 'rm -rf "$work"' EXIT
# An empty ansible.cfg (none from the environment) and a home for its files.
touch "$work/ansible.cfg"
export ANSIBLE_CONFIG="$work/ansible.cfg" HOME="$work" ANSIBLE_NOCOLOR=1

run() {
  local output status=0
  output=$(ansible-playbook -i "$ansible_dir/inventory.example.yml" "$@" "$ansible_dir/playbook.yml" 2>&1) || status=$?
  if [[ $status -ne 0 ]] || grep -q -e WARNING -e ERROR <<<"$output"; then
    echo "FAIL: ansible-playbook $* (exit $status):" >&2
    echo "$output" >&2
    exit 1
  fi
  echo "$output"
}
run --syntax-check >/dev/null
hosts=$(run --list-hosts)
for host in target1 lab1 lab2; do
  grep -qw "$host" <<<"$hosts" || { echo "FAIL: no play runs on $host:"; echo "$hosts"; exit 1; }
done
echo "PASS: playbook syntax checks; plays cover target1, lab1, lab2"
