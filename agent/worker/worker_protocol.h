// The contract between the agent's gRPC front and its worker processes.
//
// The front starts workers with WorkerPool::Exec (the agent-worker program,
// agent/worker/main.cc) and sends them v1::WorkerCommand messages, serialized, one per
// SOCK_SEQPACKET message on the control socket:
//   start   -> the worker checks the command again (ConnectionEngine::Start:
//              counts, bounds and addresses; the front checked the
//              assignment, but a worker trusts no socket), builds its
//              connection table and sets phase kReady.
//   connect -> ramps its slice at its rate and in-flight share; when every
//              connection is established or failed, phase kConnected.
//   echo{r} -> one echo check on every open connection; when each has been
//              answered, timed out or closed, echo_rounds_done = r.
//   close   -> closes every connection (RST: no TIME_WAIT holding source
//              ports), phase kClosed.
// The worker reports only through its AgentWorkerShared block, which the
// front reads every report interval. When the control socket closes (the
// front is gone or ended the run) or SIGTERM arrives, the worker closes
// everything and exits 0.
//
// The worker holds a lease of its own on the front: while it runs, the front
// bumps front_beats in every worker's block each time its loop turns (every
// few tens of ms). Once started, a worker that sees no bump for the
// assignment's lease_ms (the front is stopped, hung or swapped out, while the
// control socket stays open) fails with the reason, closes every connection
// and exits 1: its load never outlives the run the coordinator gave up on.
//
// Which source address and target a connection uses is a pure function of its
// agent-wide id, so slices over workers keep the global round-robin: the pair
// index id % (S*T) spreads connections evenly over every (source, target) pair.
#ifndef FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_
#define FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_

#include <atomic>
#include <cstdint>

#include "common/failure_reason.h"
#include "common/histogram.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {

enum class WorkerPhase : uint32_t {
  kStarting = 0,
  kReady = 1,
  kConnecting = 2,
  kConnected = 3,
  kEchoing = 4,
  kClosing = 5,
  kClosed = 6,
  kFailed = 7,  // see error
};

struct ConnectionRoute {
  uint32_t source_index;
  uint32_t target_index;
};

inline ConnectionRoute RouteOf(uint64_t connection_id, uint32_t sources, uint32_t targets) {
  uint64_t pair = connection_id % (static_cast<uint64_t>(sources) * targets);
  return {static_cast<uint32_t>(pair % sources), static_cast<uint32_t>(pair / sources)};
}

// What TLS negotiated ("TLSv1.3 TLS_AES_128_GCM_SHA256"), counted per
// distinct text; the text is written before `set` (release), never after.
inline constexpr int kTlsNegotiatedSlots = 4;
struct SharedTlsNegotiated {
  std::atomic<uint64_t> count;
  std::atomic<uint32_t> set;
  char name[60];  // NUL-terminated
};
// The first failure of each TLS reason, in words ("hostname mismatch").
inline constexpr int kTlsDetailSlots = kReasonTlsNotTls - kReasonTlsVerifyFailed + 1;
struct SharedTlsDetail {
  std::atomic<uint32_t> set;
  char text[124];  // NUL-terminated
};

// One per worker, in shared memory, zero-filled at start. Written only by the
// worker (relaxed atomics), read by the front at any time; except
// front_beats, written only by the front.
struct AgentWorkerShared {
  std::atomic<uint64_t> front_beats;  // bumped by the front while it runs (the worker's lease)

  std::atomic<uint32_t> phase;             // WorkerPhase
  std::atomic<uint32_t> echo_round;        // latest echo round started
  std::atomic<uint32_t> echo_rounds_done;  // latest echo round finished

  std::atomic<uint64_t> attempted;               // connect() calls made
  std::atomic<uint64_t> established;             // ever established
  std::atomic<uint64_t> open;                    // established and still open
  std::atomic<uint64_t> in_flight;               // connects pending
  std::atomic<uint64_t> failed;                  // connections that failed, any reason
  std::atomic<uint64_t> closed_by_peer;          // established, then closed/reset by the far side
  std::atomic<uint64_t> failures[kReasonSlots];  // by ReasonCode

  std::atomic<uint64_t> echo_sent;
  std::atomic<uint64_t> echo_verified;
  std::atomic<uint64_t> echo_mismatched;
  std::atomic<uint64_t> echo_timed_out;
  std::atomic<uint64_t> echo_closed;

  std::atomic<uint64_t> established_by_source[kMaxSourceAddresses];
  SharedHistogram connect_latency;  // connect() to established, us
  SharedHistogram echo_rtt;         // payload sent to last byte back, us

  // With assignment.tls (worker_protocol.h's readers skip them otherwise).
  std::atomic<uint64_t> tls_handshakes;  // finished
  std::atomic<uint64_t> tls_resumed;     // of those, resumed a session
  SharedHistogram tls_handshake;         // TCP established to TLS finished, us
  SharedTlsNegotiated tls_negotiated[kTlsNegotiatedSlots];
  SharedTlsDetail tls_details[kTlsDetailSlots];  // by reason - kReasonTlsVerifyFailed

  std::atomic<uint32_t> error_set;  // 1 once error holds a message
  char error[256];                  // NUL-terminated, written before error_set
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_
