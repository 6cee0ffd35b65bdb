// How a plan's totals are shared over its agents.
//
// `connections` is the total: agents with their own count get it, the others
// share the remainder evenly (the first ones get one more when it does not
// divide). connect_rate and max_in_flight follow each agent's share of the
// connections (a rate of 0, unlimited, stays 0; every agent may have at least
// one connect in flight).
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_SPLIT_H_
#define FOURTUPLE_COORDINATOR_SPLIT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/plan.h"

namespace fourtuple::coordinator {

struct AgentShare {
  uint64_t connections = 0;
  double connect_rate = 0;  // 0 = unlimited
  double echo_rate = 0;     // echo checks per second in a round; 0 = unlimited
  uint32_t max_in_flight = 1;
};

// The connection count of each agent. Fails (InvalidArgument, naming the
// field) when the explicit counts exceed the total, when every agent has an
// explicit count and they do not add up to the total, or when an agent would
// get no connection.
absl::StatusOr<std::vector<uint64_t>> SplitConnections(
    uint64_t total, const std::vector<std::optional<uint64_t>>& explicit_counts);

// Every agent's share of a plan (for a plan ParsePlan accepted this cannot
// fail: ParsePlan checks the same split).
absl::StatusOr<std::vector<AgentShare>> SplitPlan(const Plan& plan);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_SPLIT_H_
