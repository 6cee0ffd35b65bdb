// Why a connection failed: errno names as the kernel gives them, plus our
// own reasons. Codes are small integers so hot paths count them in a plain
// array (no strings, no Status); names appear only in reports.
#ifndef FOURTUPLE_COMMON_FAILURE_REASON_H_
#define FOURTUPLE_COMMON_FAILURE_REASON_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace fourtuple {

// Codes 1..kMaxErrno-1 are errno values; ours follow them.
inline constexpr int kMaxErrno = 160;
inline constexpr int kReasonConnectTimeout = 160;       // "connect_timeout"
inline constexpr int kReasonPeerClosed = 161;           // "peer_closed"
inline constexpr int kReasonEchoMismatch = 162;         // "echo_mismatch"
inline constexpr int kReasonEchoTimeout = 163;          // "echo_timeout"
inline constexpr int kReasonOther = 164;                // errno out of range: "other"
inline constexpr int kReasonTlsVerifyFailed = 165;      // "tls_verify_failed"
inline constexpr int kReasonTlsHandshakeFailed = 166;   // "tls_handshake_failed"
inline constexpr int kReasonTlsHandshakeTimeout = 167;  // "tls_handshake_timeout"
inline constexpr int kReasonTlsNotTls = 168;            // "tls_not_tls": the target answered in plain
inline constexpr int kReasonGreetingMismatch = 169;     // "greeting_mismatch": not echo.greeting first
inline constexpr int kReasonGreetingTimeout = 170;      // "greeting_timeout": echo.greeting did not come
inline constexpr int kReasonWsUpgradeRejected = 171;    // "ws_upgrade_rejected": a status other than 101
inline constexpr int kReasonWsProtocolError = 172;      // "ws_protocol_error"
inline constexpr int kReasonWsPingTimeout = 173;        // "ws_ping_timeout"
inline constexpr int kReasonWsUpgradeTimeout = 174;     // "ws_upgrade_timeout"
inline constexpr int kReasonSlots = 175;                // size of a per-reason counter array

// Folds an errno (or one of our codes) into [0, kReasonSlots).
inline int ReasonCode(int code) { return (code > 0 && code < kReasonSlots) ? code : kReasonOther; }

// "EADDRNOTAVAIL", "connect_timeout", ...; "E<number>" for an errno without a name.
absl::string_view ReasonName(int code);

// The errno name alone, for messages (same as ReasonName for errno values).
absl::string_view ErrnoName(int error_number);

// Inverse of ReasonName, for tests and report readers.
std::optional<int> ReasonFromName(absl::string_view name);

// The cause and the fix for the common reasons ("source ports exhausted for
// a source/target pair: add source addresses or target ports"); empty when
// there is nothing useful to say.
absl::string_view ReasonHint(absl::string_view reason_name);

// What gave, for a failure reason: "ports", "fds", "memory", "backlog" (the
// target's SYN/accept queues or a conntrack table), "route", "target" (it
// refused, reset, closed or garbled) or "time"; empty for other reasons.
absl::string_view ReasonLimit(absl::string_view reason_name);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_FAILURE_REASON_H_
