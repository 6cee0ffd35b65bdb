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
//              ports; FIN with close mode "fin"), phase kClosed.
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
// agent-wide id (agent/worker/source_space.h), so slices over workers keep the
// agent-wide round-robin.
//
// Per source address counts: a worker's slice reaches one contiguous window
// of address ordinals (SourceSpace::WindowOf), at most its connection count
// long. Its counters are source_counts[], which runs on past the end of the
// struct into the rest of the block: the front sizes every block for the
// longest window (SharedBytesFor), so the cost is 8 bytes per address the
// run reaches, never per address of a prefix.
#ifndef FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_
#define FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "agent/worker/reopen_counters.h"
#include "common/failure_reason.h"
#include "common/failure_sample.h"
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

// One source address's connections in one worker.
struct SourceCount {
  std::atomic<uint32_t> established;
  std::atomic<uint32_t> failed;  // failed connections (any reason, once each)
};
// Counters inside the struct itself; longer windows continue past its end.
inline constexpr size_t kInlineSourceCounts = 4096;

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

// The first bytes of one reply per failure reason that comes from received
// bytes (agent/worker/failure_samples.h): a slot is free while reason is 0;
// the worker writes length and bytes, then reason (release), once.
inline constexpr int kFailureSampleSlots = 8;
struct SharedFailureSample {
  std::atomic<uint32_t> reason;  // ReasonCode; 0 = free
  uint32_t length;               // <= kFailureSampleBytes
  char bytes[kFailureSampleBytes];
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

  SharedHistogram connect_latency;  // connect() to established, us
  // From when the plan's schedule (connect_rate) had a connection due to its
  // connect() call: time spent in this tool's own queue (in-flight cap, a
  // loop that fell behind), never the target's. us.
  SharedHistogram connect_queue;
  // Between one connect() call of this worker and the next, us: how evenly
  // the ramp is paced (tests read it; no report carries it).
  SharedHistogram connect_gap;
  SharedHistogram echo_rtt;  // payload sent to last byte back, us

  // With assignment.tls (worker_protocol.h's readers skip them otherwise).
  std::atomic<uint64_t> tls_handshakes;  // finished
  std::atomic<uint64_t> tls_resumed;     // of those, resumed a session
  SharedHistogram tls_handshake;         // TCP established to TLS finished, us
  SharedTlsNegotiated tls_negotiated[kTlsNegotiatedSlots];
  SharedTlsDetail tls_details[kTlsDetailSlots];  // by reason - kReasonTlsVerifyFailed

  SharedReopen reopen;  // churn and reconnect (reopen_counters.h)
  // What the server said, per reason, first writer wins (failure_samples.h).
  SharedFailureSample failure_samples[kFailureSampleSlots];
  // With assignment.websocket.
  std::atomic<uint64_t> ws_upgrades;        // 101s checked
  SharedHistogram ws_upgrade;               // TCP/TLS established to the 101 checked, us
  std::atomic<uint64_t> ws_pings;           // client pings sent
  std::atomic<uint64_t> ws_pongs;           // pongs received for them
  std::atomic<uint64_t> ws_closed_cleanly;  // close frames the server answered in the close phase

  std::atomic<uint32_t> error_set;  // 1 once error holds a message
  char error[256];                  // NUL-terminated, written before error_set

  // This worker's window of source addresses (source_window_first is an
  // ordinal, see above); the first kInlineSourceCounts counters, the rest
  // follow in the block.
  std::atomic<uint64_t> source_window_first;
  std::atomic<uint64_t> source_window_length;
  SourceCount source_counts[kInlineSourceCounts];
};

// Bytes of a block whose window holds `window_length` counters.
inline size_t SharedBytesFor(uint64_t window_length) {
  const uint64_t extra = window_length > kInlineSourceCounts ? window_length - kInlineSourceCounts : 0;
  return sizeof(AgentWorkerShared) + extra * sizeof(SourceCount);
}
// Counters a block of `bytes` holds.
inline uint64_t SourceCountsIn(size_t bytes) {
  return bytes < sizeof(AgentWorkerShared)
             ? 0
             : kInlineSourceCounts + (bytes - sizeof(AgentWorkerShared)) / sizeof(SourceCount);
}

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_WORKER_PROTOCOL_H_
