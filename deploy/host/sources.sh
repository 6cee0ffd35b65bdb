#!/usr/bin/env bash
# Source-address aliases for an agent host: each /32 alias is one more full
# ephemeral port range per target endpoint (see the README's "Why 65,535 ...").
#
#   sources.sh add  IFACE CIDR|RANGE   add every address as ADDR/32 on IFACE (present ones are kept)
#   sources.sh del  IFACE CIDR|RANGE   remove those that are present as /32 (others are left alone)
#   sources.sh list IFACE [CIDR|RANGE] print IFACE's /32 addresses (within the range), one a line
#   sources.sh anyip add  DEV PREFIX   make a whole prefix local at once: a route of type local
#                                      (ip route add local PREFIX dev DEV), IPv4 or IPv6
#   sources.sh anyip del  DEV PREFIX   remove that route (if present)
#   sources.sh anyip list DEV          print DEV's local prefixes (not single addresses), one a line
#
# With anyip, every address of the prefix binds on this host with no alias per
# address: a plan lists the prefix itself ("198.18.0.0/15",
# "2001:db8:7::/64") and the agent binds inside it (IPV6_FREEBIND for IPv6).
#
# CIDR|RANGE is written as in a plan's source_addresses: 10.1.2.3,
# 10.1.2.1-10.1.2.8, or 10.1.2.0/29 (every address of the prefix, network and
# broadcast included: as /32 aliases all are usable). IPv4 only; at most 65,536
# addresses a call. Running add or del twice changes nothing the second time.
# Other hosts must route the addresses to this host (a route for the block
# via this host, or the block inside the LAN's own subnet so ARP finds it).
# Exit: 0 done, 1 `ip` failed, 2 bad arguments.
set -euo pipefail

usage() { echo "sources.sh: $*; usage: sources.sh add|del|list IFACE [CIDR|RANGE], or anyip add|del|list DEV [PREFIX]" >&2; exit 2; }

to_int() {  # A.B.C.D -> integer, or fail naming the text
  local IFS=. a b c d
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || usage "'$1' is not an IPv4 address"
  read -r a b c d <<<"$1"
  (( 10#$a < 256 && 10#$b < 256 && 10#$c < 256 && 10#$d < 256 )) || usage "'$1' is not an IPv4 address"
  echo $(( (10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d ))
}
# Sets `dotted` (no subshell: add/del call it once per address).
dotted_of() { dotted="$(( $1 >> 24 & 255 )).$(( $1 >> 16 & 255 )).$(( $1 >> 8 & 255 )).$(( $1 & 255 ))"; }

# Sets first and last (integers) from CIDR|RANGE.
parse_block() {
  local text=$1
  if [[ $text == */* ]]; then
    local base=${text%/*} bits=${text#*/}
    [[ $bits =~ ^[0-9]{1,2}$ ]] && (( bits <= 32 )) || usage "'$text': prefix length must be 0..32"
    first=$(to_int "$base")
    local size=$(( 1 << (32 - bits) ))
    (( first % size == 0 )) || { dotted_of $(( first - first % size )); usage "'$text': bits set past the /$bits prefix (did you mean $dotted/$bits?)"; }
    last=$(( first + size - 1 ))
  elif [[ $text == *-* ]]; then
    first=$(to_int "${text%-*}")
    last=$(to_int "${text#*-}")
    (( first <= last )) || usage "'$text': the first address is after the last"
  else
    first=$(to_int "$text")
    last=$first
  fi
  (( last - first < 65536 )) || usage "'$text' is $(( last - first + 1 )) addresses; at most 65536 a call"
}

# IFACE's /32 IPv4 addresses as integers, one a line.
present_aliases() {
  local address
  ip -4 -o addr show dev "$1" | awk '{print $4}' | while read -r address; do
    if [[ $address == */32 ]]; then to_int "${address%/32}"; fi
  done
}

# anyip add|del|list DEV [PREFIX]: one local route per prefix.
anyip() {
  (( $# >= 2 && $# <= 3 )) || usage "usage: sources.sh anyip add|del|list DEV [PREFIX]"
  local command=$1 dev=$2 prefix=${3:-} family=-4 bits=32
  case "$command" in add | del | list) ;; *) usage "unknown anyip command '$command'" ;; esac
  ip link show dev "$dev" >/dev/null 2>&1 || usage "no interface '$dev'"
  if [[ $command == list ]]; then
    (( $# == 2 )) || usage "anyip list takes DEV only"
    { ip -4 route show table local type local dev "$dev"; ip -6 route show table local type local dev "$dev"; } |
      awk '$1 == "local" && $2 ~ /\// {print $2}'
    return
  fi
  [[ -n $prefix ]] || usage "anyip $command needs PREFIX (such as 198.18.0.0/15 or 2001:db8:7::/64)"
  [[ $prefix == */* ]] || usage "'$prefix' is not a prefix: expected ADDR/LEN"
  [[ $prefix == *:* ]] && family=-6 bits=128
  local length=${prefix#*/}
  [[ $length =~ ^[0-9]{1,3}$ ]] && (( length >= 1 && length <= bits )) ||
    usage "'$prefix': prefix length must be 1..$bits"
  local present
  present=$(ip "$family" route show table local type local "$prefix" dev "$dev" 2>/dev/null) ||
    usage "'$prefix' is not a prefix ip(8) reads"
  if [[ $command == add ]]; then
    if [[ -n $present ]]; then echo "sources.sh: $prefix is already local on $dev"; return; fi
    ip "$family" route add local "$prefix" dev "$dev" || { echo "sources.sh: ip route add local $prefix dev $dev failed" >&2; exit 1; }
    echo "sources.sh: $prefix is local on $dev"
  else
    if [[ -z $present ]]; then echo "sources.sh: $prefix was not local on $dev"; return; fi
    ip "$family" route del local "$prefix" dev "$dev" table local || { echo "sources.sh: ip route del local $prefix dev $dev failed" >&2; exit 1; }
    echo "sources.sh: $prefix is no longer local on $dev"
  fi
}

(( $# >= 2 )) || usage "missing arguments"
if [[ $1 == anyip ]]; then
  shift
  anyip "$@"
  exit 0
fi
command=$1 iface=$2 block=${3:-}
case "$command" in add | del | list) ;; *) usage "unknown command '$command'" ;; esac
ip link show dev "$iface" >/dev/null 2>&1 || usage "no interface '$iface'"
if [[ -n $block ]]; then
  parse_block "$block"
elif [[ $command == list ]]; then
  first=0 last=$(( (1 << 32) - 1 ))
else
  usage "$command needs CIDR|RANGE"
fi
(( $# <= 3 )) || usage "too many arguments"

declare -A present=()
for address in $(present_aliases "$iface"); do present[$address]=1; done

case "$command" in
  list)
    for address in $(printf '%s\n' "${!present[@]}" | sort -n); do
      if (( address >= first && address <= last )); then dotted_of "$address"; echo "$dotted"; fi
    done
    ;;
  add | del)
    # One `ip -batch` for the whole block: thousands of aliases in one process.
    batch=""
    changed=0
    for (( address = first; address <= last; address++ )); do
      if [[ $command == add && -z ${present[$address]:-} ]]; then
        dotted_of "$address"
        batch+="addr add $dotted/32 dev $iface"$'\n'
        changed=$((changed + 1))
      elif [[ $command == del && -n ${present[$address]:-} ]]; then
        dotted_of "$address"
        batch+="addr del $dotted/32 dev $iface"$'\n'
        changed=$((changed + 1))
      fi
    done
    if (( changed > 0 )); then
      printf '%s' "$batch" | ip -batch - || { echo "sources.sh: ip failed on $iface" >&2; exit 1; }
    fi
    verb=added; [[ $command == del ]] && verb=removed
    echo "sources.sh: $verb $changed of $(( last - first + 1 )) address(es) on $iface"
    ;;
esac
