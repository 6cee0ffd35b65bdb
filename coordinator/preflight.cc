#include "coordinator/preflight.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/host_facts.h"
#include "coordinator/split.h"

namespace fourtuple::coordinator {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return b == 0 ? 0 : (a + b - 1) / b; }

uint64_t EphemeralPorts(const v1::HostFacts& facts) {
  return facts.port_range_high() >= facts.port_range_low()
             ? uint64_t{facts.port_range_high()} - facts.port_range_low() + 1
             : 0;
}

}  // namespace

AgentCapacity ComputeCapacity(const v1::HostFacts& facts, uint64_t source_addresses,
                              uint64_t targets) {
  AgentCapacity out;
  if (facts.processes() == 0) {
    // --processes=auto: the agent starts as many workers as the assignment
    // needs, so only the system-wide file limit binds.
    out.by_fds = facts.file_max() > kFdReserve ? facts.file_max() - kFdReserve : 0;
  } else {
    out.by_fds = uint64_t{facts.processes()} * FdBudgetPerProcess(facts.nofile_soft());
  }
  out.by_ports = source_addresses * targets * EphemeralPorts(facts);
  out.by_memory = facts.memory_available_bytes() / kKernelBytesPerConnection;
  out.capacity = out.by_fds;
  out.binding = "file descriptors";
  if (out.by_ports < out.capacity) {
    out.capacity = out.by_ports;
    out.binding = "source ports";
  }
  if (out.by_memory < out.capacity) {
    out.capacity = out.by_memory;
    out.binding = "memory";
  }
  return out;
}

std::string CapacityFix(const AgentCapacity& capacity, const v1::HostFacts& facts,
                        uint64_t wanted, uint64_t source_addresses, uint64_t targets) {
  if (capacity.binding == "source ports") {
    const uint64_t per_address = targets * EphemeralPorts(facts);
    const uint64_t needed = CeilDiv(wanted, per_address);
    return absl::StrCat("each source address gives ", per_address, " ports over ", targets,
                        " target endpoint(s): add ", needed - source_addresses,
                        " source addresses (", needed, " in all), add target ports, or widen "
                        "net.ipv4.ip_local_port_range (now ",
                        facts.port_range_low(), "-", facts.port_range_high(), ")");
  }
  if (capacity.binding == "file descriptors") {
    if (facts.processes() == 0) {
      return absl::StrCat("raise fs.file-max (now ", facts.file_max(), ")");
    }
    const uint64_t budget = FdBudgetPerProcess(facts.nofile_soft());
    return absl::StrCat("each process holds ", budget, " (ulimit -n ", facts.nofile_soft(),
                        "): run the agent with --processes=", CeilDiv(wanted, budget),
                        " or auto, or raise ulimit -n");
  }
  return absl::StrCat("needs about ", CeilDiv(wanted * kKernelBytesPerConnection, 1ull << 20),
                      " MiB of kernel memory, ",
                      facts.memory_available_bytes() >> 20,
                      " MiB available: use more agents or a larger host");
}

PreflightResult RunPreflight(const Plan& plan,
                             const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  PreflightResult result;
  std::vector<std::string> endpoints;
  for (const AgentPlan& agent : plan.agents) endpoints.push_back(agent.endpoint);
  std::vector<ProbeResult> probes = ProbeAgents(endpoints, credentials, absl::Seconds(5));
  absl::StatusOr<std::vector<AgentShare>> shares = SplitPlan(plan);
  if (!shares.ok()) {
    result.problems.push_back(std::string(shares.status().message()));
    return result;
  }
  std::vector<std::vector<std::string>> rows = {
      {"agent", "host", "share", "capacity", "by fds", "by ports", "by memory", "binding"}};
  for (size_t i = 0; i < probes.size(); ++i) {
    const AgentPlan& agent = plan.agents[i];
    const uint64_t wanted = (*shares)[i].connections;
    if (!probes[i].facts.ok()) {
      rows.push_back({agent.endpoint, "unreachable", absl::StrCat(wanted), "-", "-", "-", "-",
                      "-"});
      result.problems.push_back(absl::StrCat("agent ", agent.endpoint, " is unreachable: ",
                                             probes[i].facts.status().message()));
      continue;
    }
    const v1::HostFacts& facts = *probes[i].facts;
    const AgentCapacity capacity =
        ComputeCapacity(facts, agent.source_addresses.size(), plan.target_endpoints.size());
    rows.push_back({agent.endpoint, facts.hostname(), absl::StrCat(wanted),
                    absl::StrCat(capacity.capacity), absl::StrCat(capacity.by_fds),
                    absl::StrCat(capacity.by_ports), absl::StrCat(capacity.by_memory),
                    capacity.binding});
    if (wanted > capacity.capacity) {
      result.problems.push_back(absl::StrCat(
          "agent ", agent.endpoint, ": ", wanted, " connections exceed its capacity of ",
          capacity.capacity, " (bound by ", capacity.binding, "): ",
          CapacityFix(capacity, facts, wanted, agent.source_addresses.size(),
                      plan.target_endpoints.size())));
    }
  }
  result.table = FormatTable(rows);
  return result;
}

}  // namespace fourtuple::coordinator
