#include "coordinator/split.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace fourtuple::coordinator {

absl::StatusOr<std::vector<uint64_t>> SplitConnections(
    uint64_t total, const std::vector<std::optional<uint64_t>>& explicit_counts) {
  if (explicit_counts.empty()) {
    return absl::InvalidArgumentError("agents: at least one agent is needed");
  }
  uint64_t explicit_sum = 0;
  size_t shared_by = 0;
  for (const std::optional<uint64_t>& count : explicit_counts) {
    if (count.has_value()) {
      // Each count is far below 2^63 (the plan parser caps them), so the sum
      // of a few thousand cannot wrap; still, stop as soon as it passes.
      explicit_sum += *count;
      if (explicit_sum > total) break;
    } else {
      ++shared_by;
    }
  }
  if (explicit_sum > total) {
    return absl::InvalidArgumentError(absl::StrCat(
        "agents: the agents' own connection counts add up to more than connections (", total, ")"));
  }
  const uint64_t remainder = total - explicit_sum;
  if (shared_by == 0 && remainder != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("agents: every agent has its own connection count and they add up to ", explicit_sum,
                     ", not connections (", total, "); fix one or drop a count"));
  }
  std::vector<uint64_t> counts;
  counts.reserve(explicit_counts.size());
  const uint64_t each = shared_by ? remainder / shared_by : 0;
  uint64_t extra = shared_by ? remainder % shared_by : 0;
  for (size_t i = 0; i < explicit_counts.size(); ++i) {
    uint64_t count;
    if (explicit_counts[i].has_value()) {
      count = *explicit_counts[i];
    } else {
      count = each;
      if (extra > 0) {
        ++count;
        --extra;
      }
    }
    if (count == 0) {
      return absl::InvalidArgumentError(absl::StrCat("agents[", i, "]: gets no connection (connections ",
                                                     total, " minus the agents' own ", explicit_sum,
                                                     " leaves ", remainder, " for ", shared_by, " agents)"));
    }
    counts.push_back(count);
  }
  return counts;
}

absl::StatusOr<std::vector<AgentShare>> SplitPlan(const Plan& plan) {
  std::vector<std::optional<uint64_t>> explicit_counts;
  explicit_counts.reserve(plan.agents.size());
  for (const AgentPlan& agent : plan.agents) explicit_counts.push_back(agent.connections);
  ASSIGN_OR_RETURN(std::vector<uint64_t> counts, SplitConnections(plan.connections, explicit_counts));

  std::vector<AgentShare> shares(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    const double fraction = static_cast<double>(counts[i]) / static_cast<double>(plan.connections);
    shares[i].connections = counts[i];
    shares[i].connect_rate = plan.connect_rate * fraction;
    shares[i].echo_rate = RoundEchoRate(plan) * fraction;
    const double in_flight = std::round(static_cast<double>(plan.max_in_flight) * fraction);
    shares[i].max_in_flight =
        static_cast<uint32_t>(std::clamp(in_flight, 1.0, static_cast<double>(plan.max_in_flight)));
  }
  return shares;
}

}  // namespace fourtuple::coordinator
