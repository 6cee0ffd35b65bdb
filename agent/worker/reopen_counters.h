// A worker's counters of the load models (churn and reconnect), in its
// shared block (worker_protocol.h): written only by the worker's loop
// (relaxed atomics), read by the agent front at any time.
#ifndef FOURTUPLE_AGENT_WORKER_REOPEN_COUNTERS_H_
#define FOURTUPLE_AGENT_WORKER_REOPEN_COUNTERS_H_

#include <atomic>
#include <cstdint>

#include "common/failure_reason.h"
#include "common/histogram.h"

namespace fourtuple::agent {

struct SharedReopen {
  std::atomic<uint64_t> churned;                 // churn closes whose reopen was established
  std::atomic<uint64_t> reconnected;             // dropped connections established again
  std::atomic<uint64_t> drops;                   // established connections the far side closed or reset
  std::atomic<uint64_t> reopening;               // in backoff, queued or connecting again, now
  std::atomic<uint64_t> round_verified;          // echoes verified in the latest round
  std::atomic<uint64_t> longest_outage_us;       // first drop to every connection back, the longest
  std::atomic<uint64_t> failures[kReasonSlots];  // reopens given up, by the last attempt's reason
  SharedHistogram recovery;                      // a drop to the connection's return, us
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_REOPEN_COUNTERS_H_
