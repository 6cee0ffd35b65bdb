#include "common/failure_reason.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fourtuple {
namespace {

// Names of errno values 0..kReasonSlots-1, built once: strerrorname_np
// (glibc 2.32+) where the kernel has a name, "E<n>" where it has none. Kept
// as strings so every name outlives its caller.
struct ErrnoNames {
  std::string names[kReasonSlots];
  ErrnoNames() {
    for (int i = 0; i < kReasonSlots; ++i) {
      const char* name = i == 0 ? nullptr : strerrorname_np(i);
      names[i] = name != nullptr ? std::string(name) : absl::StrCat("E", i);
    }
  }
};

const ErrnoNames& Names() {
  static const ErrnoNames* names = new ErrnoNames();  // never destroyed: used at exit
  return *names;
}

struct OwnReason {
  int code;
  absl::string_view name;
};
constexpr OwnReason kOwnReasons[] = {
    {kReasonConnectTimeout, "connect_timeout"},
    {kReasonPeerClosed, "peer_closed"},
    {kReasonEchoMismatch, "echo_mismatch"},
    {kReasonEchoTimeout, "echo_timeout"},
    {kReasonOther, "other"},
    {kReasonTlsVerifyFailed, "tls_verify_failed"},
    {kReasonTlsHandshakeFailed, "tls_handshake_failed"},
    {kReasonTlsHandshakeTimeout, "tls_handshake_timeout"},
    {kReasonTlsNotTls, "tls_not_tls"},
    {kReasonGreetingMismatch, "greeting_mismatch"},
    {kReasonGreetingTimeout, "greeting_timeout"},
    {kReasonWsUpgradeRejected, "ws_upgrade_rejected"},
    {kReasonWsProtocolError, "ws_protocol_error"},
    {kReasonWsPingTimeout, "ws_ping_timeout"},
    {kReasonWsUpgradeTimeout, "ws_upgrade_timeout"},
};

struct Hint {
  absl::string_view name;
  absl::string_view limit;  // what gave (ReasonLimit)
  absl::string_view text;
};
// What gave; cause, then fix. Phrased for the person reading the run's summary.
constexpr Hint kHints[] = {
    {"EADDRNOTAVAIL", "ports",
     "source ports exhausted for a source/target pair (each source address gives one "
     "ephemeral port range per target endpoint): add source addresses or target ports, or "
     "widen net.ipv4.ip_local_port_range"},
    {"EMFILE", "fds",
     "per-process file descriptor limit reached: raise ulimit -n (LimitNOFILE= for systemd, "
     "up to fs.nr_open) or use more processes"},
    {"ENFILE", "fds", "system-wide file limit reached: raise fs.file-max (sysctl -w fs.file-max=N)"},
    {"ECONNREFUSED", "target",
     "nothing listening on the target port, or its accept backlog overflowed: check the "
     "target is up, raise its listen backlog and net.core.somaxconn"},
    {"ETIMEDOUT", "backlog",
     "the handshake or connection timed out in the kernel: the target's SYN backlog or a "
     "conntrack table on the path is full; raise net.ipv4.tcp_max_syn_backlog, "
     "net.core.somaxconn and net.netfilter.nf_conntrack_max, or lower connect_rate"},
    {"connect_timeout", "backlog",
     "no answer to the SYN within connect_timeout: the target's SYN/accept backlog or a "
     "conntrack table is full; raise net.ipv4.tcp_max_syn_backlog, net.core.somaxconn and "
     "net.netfilter.nf_conntrack_max, or lower connect_rate"},
    {"ECONNRESET", "target",
     "the target or a middlebox reset the connection (accept queue overflow with "
     "tcp_abort_on_overflow, the target's fd limit, or a conntrack/firewall drop): check the "
     "target's errors and limits"},
    {"ENOBUFS", "memory",
     "the kernel is out of socket memory: raise net.ipv4.tcp_mem / net.core.rmem_max and "
     "wmem_max, lower per-socket buffers, or add memory"},
    {"ENOMEM", "memory",
     "the kernel is out of memory for sockets: lower per-socket buffers (rcvbuf/sndbuf), "
     "raise net.ipv4.tcp_mem, or add memory"},
    {"ENETUNREACH", "route",
     "no route to the target's network from this source address: check routes (ip route "
     "get TARGET from SOURCE) and that the source address is configured"},
    {"EHOSTUNREACH", "route",
     "no route to the target host (or ARP/neighbour lookup failed): check routes and that "
     "the target is up"},
    {"EADDRINUSE", "ports",
     "the address and port are already taken: for a listener, another process holds the "
     "port (stop it or pick another); for a client, bound source ports collide (bind with "
     "IP_BIND_ADDRESS_NO_PORT, or widen net.ipv4.ip_local_port_range)"},
    {"peer_closed", "target",
     "the target closed a held connection: check the target's logs, limits and idle "
     "timeouts"},
    {"echo_mismatch", "target",
     "the bytes echoed back differ from those sent (or from echo.expect / echo.first_expect): "
     "the target is not a byte-exact echo server, refused the request, or something on the "
     "path rewrites data; the report's failure_samples show what it said"},
    {"tls_verify_failed", "target",
     "the target's certificate did not verify (the reason is in the report's "
     "tls_failure_details): give target.tls.ca the CA that signed it, set "
     "target.tls.server_name to a name in its subjectAltName, renew an expired "
     "certificate, or set target.tls.verify to false for a lab target"},
    {"tls_handshake_failed", "target",
     "the target ended the TLS handshake (the alert it sent is in the report's "
     "tls_failure_details): check target.tls.min_version/max_version, alpn, and that "
     "client_cert/client_key are given when the target asks for a client certificate"},
    {"tls_handshake_timeout", "time",
     "the TLS handshake did not finish within connect_timeout: the target is short of CPU "
     "for handshakes; lower connect_rate, give the target more processes, or raise "
     "connect_timeout"},
    {"tls_not_tls", "target",
     "the target answered in plain text, not TLS: it is a plain TCP server (remove "
     "target.tls from the plan, or point it at the TLS port)"},
    {"greeting_mismatch", "target",
     "the first bytes the target sent are not echo.greeting (what it said is in the report's "
     "failure_samples): check echo.greeting against the server's banner, and that the "
     "target is the server you meant (a refusal such as a protected mode or a connection "
     "limit shows there too)"},
    {"greeting_timeout", "time",
     "echo.greeting did not arrive within connect_timeout after the connection opened: the "
     "target does not speak first (remove echo.greeting), or it is too slow to greet; raise "
     "connect_timeout or lower connect_rate"},
    {"ws_upgrade_rejected", "target",
     "the server answered the WebSocket upgrade with a status other than 101 (the status line "
     "is in the report's failure samples): check target.websocket.path, host, origin and "
     "headers (a token or cookie it expects), and that the endpoint speaks WebSocket"},
    {"ws_protocol_error", "target",
     "the server broke RFC 6455: a 101 with a wrong Sec-WebSocket-Accept, a subprotocol or "
     "extension not offered, masked or malformed frames: check that a WebSocket server (not a "
     "proxy rewriting the handshake) answers, and target.websocket.subprotocols"},
    {"ws_ping_timeout", "time",
     "no pong within echo.timeout of a ping: the server or the path is stalled, or drops "
     "control frames; raise echo.timeout or target.websocket.ping_interval"},
    {"ws_upgrade_timeout", "time",
     "no answer to the WebSocket upgrade within connect_timeout: the server is short of CPU or "
     "not an HTTP server; lower connect_rate, give the server more processes, or raise "
     "connect_timeout"},
    {"echo_timeout", "time",
     "no echo within echo.timeout: the target is overloaded or stalled; raise echo.timeout "
     "or give the target more processes"},
};

}  // namespace

absl::string_view ReasonName(int code) {
  code = ReasonCode(code);
  if (code < kMaxErrno) return Names().names[code];
  for (const OwnReason& reason : kOwnReasons) {
    if (reason.code == code) return reason.name;
  }
  return "other";
}

absl::string_view ErrnoName(int error_number) {
  if (error_number >= 0 && error_number < kReasonSlots) return Names().names[error_number];
  const char* name = strerrorname_np(error_number);
  return name != nullptr ? absl::string_view(name) : absl::string_view("unknown-errno");
}

std::optional<int> ReasonFromName(absl::string_view name) {
  for (const OwnReason& reason : kOwnReasons) {
    if (reason.name == name) return reason.code;
  }
  for (int code = 1; code < kMaxErrno; ++code) {
    if (Names().names[code] == name) return code;
  }
  return std::nullopt;
}

absl::string_view ReasonHint(absl::string_view reason_name) {
  for (const Hint& hint : kHints) {
    if (hint.name == reason_name) return hint.text;
  }
  return "";
}

absl::string_view ReasonLimit(absl::string_view reason_name) {
  for (const Hint& hint : kHints) {
    if (hint.name == reason_name) return hint.limit;
  }
  return "";
}

}  // namespace fourtuple
