// The kernel's counters of connection attempts a listener turned away, from
// /proc/net/netstat (TcpExt) of the calling process's network namespace:
// accept-queue overflows, drops and SYN cookies. A target whose accept queue
// overflows makes clients retransmit their SYN after 1 s, 3 s, 7 s...; these
// counters say it happened, on the host (namespace) where they are read.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_LISTEN_COUNTERS_H_
#define FOURTUPLE_COMMON_LISTEN_COUNTERS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

struct ListenCounters {
  uint64_t listen_overflows = 0;  // TcpExt ListenOverflows: accept queue full
  uint64_t listen_drops = 0;      // TcpExt ListenDrops: SYNs and ACKs dropped by listeners
  uint64_t syncookies_sent = 0;   // TcpExt SyncookiesSent: SYN queue full, answered with a cookie
};

// Parses /proc/net/netstat text (pairs of "TcpExt:" lines, names then values).
absl::StatusOr<ListenCounters> ParseListenCounters(absl::string_view netstat);
// Reads and parses /proc/net/netstat.
absl::StatusOr<ListenCounters> ReadListenCounters();
// later - earlier, field by field (0 where a counter went back: a new namespace).
ListenCounters ListenCountersSince(const ListenCounters& earlier, const ListenCounters& later);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_LISTEN_COUNTERS_H_
