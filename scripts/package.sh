#!/usr/bin/env bash
# Builds the Debian package fourtuple_VERSION_amd64.deb (VERSION is the
# project VERSION of CMakeLists.txt) from the programs in build/bin, with
# dpkg-deb. Prints the package's path.
#   scripts/package.sh [--no-build] [--bin DIR] [--output DIR]
# --no-build: package the programs as they are (default: scripts/build.sh
# --programs first). --bin: where the built programs are (default: build/bin;
# implies --no-build). --output: where the .deb goes (default: the repository
# root).
#
# What it holds:
#   /usr/bin/fourtuple-{coordinator,agent,agent-worker,target-server}
#     (stripped; the agent runs its own path plus -worker, so the worker sits
#     beside it), /usr/sbin/fourtuple-sources (deploy/host/sources.sh)
#   /lib/systemd/system/fourtuple-agent@.service, fourtuple-target-server.service
#     (installed, neither enabled nor started: a host runs agents, a target or
#     neither, and each needs /etc/fourtuple/token first)
#   /usr/share/fourtuple/sysctl.d/90-fourtuple.conf and
#   /usr/share/fourtuple/limits.d/90-fourtuple-limits.conf: the host tuning,
#     shipped but not applied (it changes the whole host); README.Debian says
#     how to turn it on
#   /usr/share/doc/fourtuple/: README, docs, the units' example env files
# Depends: is what dpkg-shlibdeps finds for the shared libraries the
# programs link, not a hand-written list.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=1 output=$root bin=build/bin
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --bin) bin=$2; build=0; shift 2 ;;
    --output) output=$2; shift 2 ;;
    *) echo "package: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
for tool in dpkg-deb dpkg-shlibdeps strip; do
  command -v "$tool" >/dev/null || {
    echo "package: $tool not found (apt-get install dpkg-dev binutils)" >&2; exit 1; }
done

(( build )) && scripts/build.sh --programs >&2
version=$(sed -n 's/^project(fourtuple VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || { echo "package: no project VERSION in CMakeLists.txt" >&2; exit 1; }
arch=$(dpkg --print-architecture)
for program in coordinator agent agent-worker target-server; do
  [[ -x $bin/$program ]] || { echo "package: $bin/$program not built (scripts/build.sh --programs)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fourtuple-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=$work/fourtuple
doc=$pkg/usr/share/doc/fourtuple
# Files 0644 and directories 0755 whatever the umask (lintian checks modes).
umask 022
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/sbin" "$pkg/lib/systemd/system" \
  "$pkg/usr/share/fourtuple/sysctl.d" "$pkg/usr/share/fourtuple/limits.d" \
  "$doc/docs" "$doc/examples" "$pkg/usr/share/lintian/overrides"

# The programs, stripped as dh_strip does.
for program in coordinator agent agent-worker target-server; do
  install -m 0755 "$bin/$program" "$pkg/usr/bin/fourtuple-$program"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$pkg/usr/bin/fourtuple-$program"
done
install -m 0755 deploy/host/sources.sh "$pkg/usr/sbin/fourtuple-sources"

# The units name the programs where this package puts them.
for unit in deploy/systemd/*.service; do
  install -m 0644 "$unit" "$pkg/lib/systemd/system/$(basename "$unit")"
done
if grep -n 'ExecStart=' "$pkg"/lib/systemd/system/*.service | grep -v 'ExecStart=/usr/bin/fourtuple-'; then
  echo "package: a unit's ExecStart is not /usr/bin/fourtuple-*" >&2; exit 1
fi
install -m 0644 deploy/systemd/agent.env deploy/systemd/target-server.env "$doc/examples/"
install -m 0644 deploy/host/90-fourtuple.conf "$pkg/usr/share/fourtuple/sysctl.d/"
install -m 0644 deploy/host/90-fourtuple-limits.conf "$pkg/usr/share/fourtuple/limits.d/"

install -m 0644 README.md "$doc/README.md"
install -m 0644 docs/*.md "$doc/docs/"
cat >"$doc/README.Debian" <<'EOF'
fourtuple on Debian
===================

The programs are /usr/bin/fourtuple-coordinator, fourtuple-agent (which runs
fourtuple-agent-worker from beside it), fourtuple-target-server, and
/usr/sbin/fourtuple-sources (adds source-address aliases).

Nothing starts on install. A load host runs agents, a target host the
target-server; both first need the shared token:

  install -d /etc/fourtuple
  openssl rand -hex 32 > /etc/fourtuple/token && chmod 600 /etc/fourtuple/token
  cp /usr/share/doc/fourtuple/examples/agent.env /etc/fourtuple/   # set --allow-targets
  systemctl enable --now fourtuple-agent@7000
  # or, on the target host:
  cp /usr/share/doc/fourtuple/examples/target-server.env /etc/fourtuple/
  systemctl enable --now fourtuple-target-server

Host tuning (port range, backlogs, file limits, conntrack) changes the whole
host, so it is shipped but not applied. To turn it on:

  ln -s /usr/share/fourtuple/sysctl.d/90-fourtuple.conf /etc/sysctl.d/
  sysctl --system
  ln -s /usr/share/fourtuple/limits.d/90-fourtuple-limits.conf /etc/security/limits.d/

Remove the links (and run sysctl --system, or reboot) to turn it off. The
units set their own open-file limit; the limits.d file covers programs
started from a login shell.

See docs/deploy.md in this folder for a whole lab.
EOF

cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fourtuple

Files: *
Copyright: 2026 the fourtuple authors
License: custom
 fourtuple is built from its repository as it is; this package adds no
 terms of its own. Its own files carry no separate license grant: use them
 on the terms under which you received the repository.
 .
 The programs link gRPC, Protobuf and Abseil (Apache-2.0), nlohmann/json
 (MIT) and civetweb (MIT) dynamically, from their own Debian packages (see
 /usr/share/doc/<package>/copyright). The static fourtuple-agent-worker
 includes Protobuf's lite runtime and Abseil (Apache-2.0, see
 /usr/share/common-licenses/Apache-2.0) and the GNU C library (LGPL-2.1+,
 see /usr/share/common-licenses/LGPL-2.1).
EOF

date_rfc=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
maintainer="fourtuple maintainers <maintainers@fourtuple.invalid>"
# The version has no Debian revision (a native package), so the changelog is
# changelog.gz, not changelog.Debian.gz.
cat >"$work/changelog" <<EOF
fourtuple ($version) unstable; urgency=medium

  * Package of fourtuple $version, built by scripts/package.sh.

 -- $maintainer  $date_rfc
EOF
gzip -9n -c "$work/changelog" >"$doc/changelog.gz"

# Why lintian's warnings about this package are expected.
cat >"$pkg/usr/share/lintian/overrides/fourtuple" <<'EOF'
# The worker is static on purpose: every one of up to a core's worth of
# processes maps it, and its hot functions are laid out by the linker.
fourtuple: statically-linked-binary [usr/bin/fourtuple-agent-worker]
EOF
chmod 0644 "$pkg/usr/share/lintian/overrides/fourtuple"

# Depends: from the ELF programs' shared libraries (dpkg-shlibdeps wants a
# debian/control beside them).
mkdir -p "$work/src/debian"
cat >"$work/src/debian/control" <<EOF
Source: fourtuple
Maintainer: $maintainer

Package: fourtuple
Architecture: any
EOF
(cd "$work/src" && dpkg-shlibdeps -O --ignore-missing-info -e"$pkg/usr/bin/fourtuple-coordinator" \
  -e"$pkg/usr/bin/fourtuple-agent" -e"$pkg/usr/bin/fourtuple-agent-worker" \
  -e"$pkg/usr/bin/fourtuple-target-server" 2>"$work/shlibdeps.err") >"$work/substvars" || {
  cat "$work/shlibdeps.err" >&2; exit 1; }
depends=$(sed -n 's/^shlibs:Depends=//p' "$work/substvars")
[[ -n $depends ]] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# sources.sh runs ip(8).
depends+=", iproute2"

installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: fourtuple
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Section: net
Priority: optional
Description: distributed TCP connection-scale load generator
 fourtuple opens, holds and exercises millions of TCP connections from
 several load hosts against one target, and reports whether the target
 kept up. The package holds the coordinator (reads a JSON plan, drives the
 agents, writes JSON and HTML reports), the agent with its worker program,
 and target-server, an echo server for connection-scale tests, with
 systemd units (not enabled) and optional host tuning files.
EOF
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
  >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

mkdir -p "$output"
deb=$output/fourtuple_${version}_${arch}.deb
dpkg-deb --root-owner-group --build -Zxz "$pkg" "$deb" >/dev/null
echo "$deb"
