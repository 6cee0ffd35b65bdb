// Facts about this host that bound how many connections it can open or hold.
// Reads /proc and getrlimit; never changes anything.
#ifndef FOURTUPLE_COMMON_HOST_FACTS_H_
#define FOURTUPLE_COMMON_HOST_FACTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fourtuple {

struct HostFacts {
  std::string hostname;
  // The running kernel's boot id: the same in every container and network
  // namespace on it, new at each boot. Empty when unreadable.
  std::string boot_id;
  uint32_t cores = 0;                   // sched_getaffinity count
  uint64_t memory_total_bytes = 0;      // MemTotal
  uint64_t memory_available_bytes = 0;  // MemAvailable
  uint64_t nofile_soft = 0;             // RLIMIT_NOFILE
  uint64_t nofile_hard = 0;
  uint64_t nr_open = 0;         // fs.nr_open
  uint64_t file_max = 0;        // fs.file-max
  uint32_t port_range_low = 0;  // net.ipv4.ip_local_port_range
  uint32_t port_range_high = 0;
  uint32_t somaxconn = 0;            // net.core.somaxconn
  uint32_t tcp_max_syn_backlog = 0;  // net.ipv4.tcp_max_syn_backlog
  bool conntrack_present = false;    // /proc/sys/net/netfilter/nf_conntrack_max exists
  uint64_t conntrack_max = 0;
  uint64_t conntrack_count = 0;
  std::vector<std::string> local_addresses;  // getifaddrs, IPv4 and IPv6
  std::vector<std::string> local_routes;     // "ADDR/LEN" of every local route (local_routes.h)

  // Ports per source address per target endpoint.
  uint32_t EphemeralPorts() const {
    return port_range_high >= port_range_low ? port_range_high - port_range_low + 1 : 0;
  }
};

// Reads every fact; a missing optional file (conntrack) is not an error.
absl::StatusOr<HostFacts> ReadHostFacts();

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
absl::StatusOr<uint64_t> RaiseFdLimit();

// The number of connections one process may hold: the soft fd limit less a
// reserve for listeners, epoll, pipes, gRPC and logs.
inline constexpr uint64_t kFdReserve = 64;
uint64_t FdBudgetPerProcess(uint64_t nofile_soft);

// Reads a whole small file (for /proc and /sys).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_HOST_FACTS_H_
