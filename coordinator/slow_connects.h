// Why a run's connects were slow: the SYN-retransmit signature. When a
// target's accept queue overflows, the kernel drops the client's handshake
// and the client retransmits its SYN after 1 s, then 3 s, 7 s, 15 s... from
// its connect() call, so the connects that recover land in clusters at those
// times. The kernel's ListenOverflows / ListenDrops / SyncookiesSent counters
// of the host where the target listens confirm it; agents read their own
// host's (RunReport.listen_overflows...), which are the target's when it
// listens there.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_SLOW_CONNECTS_H_
#define FOURTUPLE_COORDINATOR_SLOW_CONNECTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"

namespace fourtuple::coordinator {

// One agent host's listener turn-aways during the run.
struct HostTurnAways {
  std::string host;
  uint64_t listen_overflows = 0;
  uint64_t listen_drops = 0;
  uint64_t syncookies_sent = 0;
};

// Connect latencies at the SYN retransmission times.
struct RetransmitSignature {
  uint64_t slow = 0;       // connects that took 900 ms or more
  uint64_t at_steps = 0;   // of those, near 1 s, 3 s, 7 s, 15 s, 31 s or 63 s
  uint64_t total = 0;      // every connect measured
  std::string steps_seen;  // "1 s, 3 s"
};

// The signature when it is there: at least a few slow connects, most of them
// at the retransmission steps.
std::optional<RetransmitSignature> FindRetransmitSignature(const Histogram& connect_latency);

// The warning for the report and summary (empty when there is nothing to
// say): the signature, the hosts whose listeners turned connects away, and
// the fix. `max_in_flight` is the plan's.
std::string SlowConnectWarning(const Histogram& connect_latency, const std::vector<HostTurnAways>& hosts,
                               uint32_t max_in_flight);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_SLOW_CONNECTS_H_
