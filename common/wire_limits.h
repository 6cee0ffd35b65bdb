// Limits of the control protocol that both ends check: the coordinator refuses
// a plan past them (exit 2, naming the field) and the agent refuses an
// assignment past them (INVALID_ARGUMENT), so a plan the coordinator accepts
// is never refused by an agent, and a forged assignment cannot ask an agent for
// absurd sizes. One home, included by both sides; nothing else defines them.
// Thread-safety: constants only.
#ifndef FOURTUPLE_COMMON_WIRE_LIMITS_H_
#define FOURTUPLE_COMMON_WIRE_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace fourtuple {

// Source addresses per agent and target endpoints per run: the worker's
// shared block keeps one counter per source address.
inline constexpr int kMaxSourceAddresses = 4096;
inline constexpr int kMaxTargets = 256;

// Echo payload: agent u32 + connection u64 + round u32 is the smallest that
// carries a connection's unique id.
inline constexpr uint32_t kMinPayloadBytes = 16;
inline constexpr uint32_t kMaxPayloadBytes = 4096;
// echo.send / echo.expect: 1..this many bytes each (the connection record
// counts their progress in 16-bit fields).
inline constexpr uint32_t kMaxSendExpectBytes = 4096;

// Worker processes per agent run, from the agent's flag or an assignment: far
// past what any host needs (1M connections at a 20,000-fd limit is 51), low
// enough that a bad number cannot fork-bomb the host.
inline constexpr int kMaxProcesses = 1024;

// Connections one agent accepts in one assignment.
inline constexpr uint64_t kMaxAgentConnections = 50'000'000;
// New connections per second for a whole assignment (0 = unlimited).
inline constexpr double kMaxConnectRate = 10'000'000;

// Connect and echo timeouts. The engine stamps connect latency and echo RTT in
// 32-bit microseconds (they wrap after 71.6 minutes), so one hour is the most.
inline constexpr uint64_t kMaxTimeoutMs = 60 * 60 * 1000;
// Report interval: below 10 ms reports are a busy loop.
inline constexpr uint64_t kMinReportIntervalMs = 10;
inline constexpr uint64_t kMaxReportIntervalMs = 60 * 60 * 1000;
// The lease: how long an agent keeps a run's connections without hearing from
// the coordinator.
inline constexpr uint64_t kMinLeaseMs = 100;
inline constexpr uint64_t kMaxLeaseMs = 24 * 60 * 60 * 1000;
inline constexpr size_t kMaxRunIdLength = 128;

// target.tls: each PEM file (CA bundle, client certificate, client key), the
// ALPN list (protocol names of 1..255 bytes, RFC 7301) and the server name.
inline constexpr size_t kMaxTlsPemBytes = 1 << 20;
inline constexpr int kMaxAlpnProtocols = 16;
inline constexpr size_t kMaxAlpnProtocolBytes = 255;
inline constexpr size_t kMaxServerNameBytes = 253;
// TLS versions on the wire; a plan names them "1.2" and "1.3".
inline constexpr uint32_t kTlsVersion12 = 0x0303;
inline constexpr uint32_t kTlsVersion13 = 0x0304;
// Load models: the longest reconnect backoff (an hour: longer is a typo) and
// the longest churn (a week).
inline constexpr uint64_t kMaxBackoffMs = 60 * 60 * 1000;
inline constexpr uint64_t kMaxChurnDurationMs = 7 * 24 * 60 * 60 * 1000;

// target.websocket: what one upgrade request may carry. Together they keep a
// request head under 48 KiB, which the agent builds in its read buffer.
inline constexpr size_t kMaxWebSocketPathBytes = 2048;
inline constexpr size_t kMaxWebSocketOriginBytes = 1024;
inline constexpr int kMaxWebSocketSubprotocols = 16;
inline constexpr size_t kMaxWebSocketSubprotocolBytes = 64;
inline constexpr int kMaxWebSocketHeaders = 32;
inline constexpr size_t kMaxWebSocketHeaderNameBytes = 64;
inline constexpr size_t kMaxWebSocketHeaderValueBytes = 1024;

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_WIRE_LIMITS_H_
