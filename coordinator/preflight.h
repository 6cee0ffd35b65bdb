// Preflight: how many connections each agent of a plan can hold, from its
// host facts, and which limit binds (DESIGN.md "Preflight / capacity"):
//   capacity = min(processes x fd budget,
//                  source addresses x target endpoints x ephemeral ports,
//                  available memory / kernel memory per connection)
// A share over capacity is reported with the binding limit and its fix.
//
// Thread-safety: pure functions, except RunPreflight which probes agents.
#ifndef FOURTUPLE_COORDINATOR_PREFLIGHT_H_
#define FOURTUPLE_COORDINATOR_PREFLIGHT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/plan.h"
#include "coordinator/probe_command.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// Kernel memory one client-side connection costs (socket, inode, file,
// epoll item, port tracking): about half the ~8.4 KB per loopback pair
// measured in ../shared/floor, rounded up.
inline constexpr uint64_t kKernelBytesPerConnection = 4608;

struct AgentCapacity {
  uint64_t by_fds = 0;     // worker processes x per-process fd budget (or fs.file-max)
  uint64_t by_ports = 0;   // source addresses x targets x ephemeral ports
  uint64_t by_memory = 0;  // available memory / kKernelBytesPerConnection
  uint64_t capacity = 0;   // the smallest of the three
  std::string binding;     // which one: "file descriptors", "source ports", "memory"
};

AgentCapacity ComputeCapacity(const v1::HostFacts& facts, uint64_t source_addresses,
                              uint64_t targets);

// What to change when `wanted` connections exceed the capacity.
std::string CapacityFix(const AgentCapacity& capacity, const v1::HostFacts& facts,
                        uint64_t wanted, uint64_t source_addresses, uint64_t targets);

struct PreflightResult {
  std::string table;               // the capacity table for people
  std::vector<std::string> problems;  // unreachable agents, shares over capacity
};

// Probes every agent of the plan and checks its share against its capacity.
PreflightResult RunPreflight(const Plan& plan,
                             const std::shared_ptr<grpc::ChannelCredentials>& credentials);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PREFLIGHT_H_
