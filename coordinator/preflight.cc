#include "coordinator/preflight.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "coordinator/agent_discovery.h"
#include "coordinator/capacity.h"
#include "coordinator/probe_command.h"
#include "coordinator/split.h"
#include "coordinator/tls_preflight.h"

namespace fourtuple::coordinator {
namespace {

constexpr absl::Duration kProbeTimeout = absl::Seconds(5);

// A target on loopback shares the agents' host: its accepted sockets cost
// kernel memory there too.
bool TargetSharesTheHost(const Plan& plan) {
  for (const std::string& text : plan.target_endpoints) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(text);
    if (!endpoint.ok() || !endpoint->address.IsLoopback()) return false;
  }
  return true;
}

// Whether a target endpoint is an address of the agent's host (loopback
// included): then that host's listen settings are the target's.
bool TargetListensOn(const Plan& plan, const v1::HostFacts& facts) {
  for (const std::string& text : plan.target_endpoints) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(text);
    if (!endpoint.ok()) continue;
    if (endpoint->address.IsLoopback()) return true;
    const std::string address = endpoint->address.ToString();
    for (const std::string& local : facts.local_addresses()) {
      if (local == address) return true;
    }
  }
  return false;
}

}  // namespace

PreflightResult RunPreflight(Plan* plan_in, const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  Plan& plan = *plan_in;
  PreflightResult result;
  absl::StatusOr<std::vector<AgentShare>> shares = SplitPlan(plan);
  if (!shares.ok()) {
    result.errors.push_back(std::string(shares.status().message()));
    return result;
  }
  std::vector<std::string> endpoints;
  for (const AgentPlan& agent : plan.agents) endpoints.push_back(agent.endpoint);
  const std::vector<ProbeResult> probes = ProbeAgents(endpoints, credentials, kProbeTimeout);
  const bool shares_host = TargetSharesTheHost(plan);
  const double bytes_per_connection =
      (shares_host ? 2 * kAgentBytesPerConnection : kAgentBytesPerConnection) +
      TlsBytesPerConnection(plan, shares_host);

  // Memory is per host: the agents on one kernel share it (HostKey).
  std::vector<AgentDemand> demands(probes.size());
  std::vector<const v1::HostFacts*> facts(probes.size(), nullptr);
  for (size_t i = 0; i < probes.size(); ++i) {
    if (!probes[i].facts.ok()) continue;
    facts[i] = &*probes[i].facts;
    AgentDemand& demand = demands[i];
    demand.name = plan.agents[i].endpoint;
    demand.connections = (*shares)[i].connections;
    demand.target_endpoints = static_cast<uint32_t>(plan.target_endpoints.size());
    demand.processes = 0;  // the assignment leaves the worker count to the agent
    demand.connect_burst = TargetListensOn(plan, *facts[i]) ? (*shares)[i].max_in_flight : 0;
    demand.memory_bytes_per_connection = bytes_per_connection;
  }
  GroupDemandsByHost(facts, demands);
  if (std::optional<std::string> warning = TlsRateWarning(plan, facts)) result.warnings.push_back(*warning);

  result.facts.resize(probes.size());
  std::vector<CapacityRow> rows;
  for (size_t i = 0; i < probes.size(); ++i) {
    if (probes[i].facts.ok()) result.facts[i] = *probes[i].facts;
    AgentPlan& agent = plan.agents[i];
    if (!probes[i].facts.ok()) {
      result.unreachable.push_back(DescribeProbeFailure(agent.endpoint, probes[i].facts.status()));
      continue;
    }
    absl::Status sources = ResolveLocalSources(*probes[i].facts, &agent);
    if (!sources.ok()) {
      result.errors.push_back(std::string(sources.message()));
      continue;
    }
    AgentDemand& demand = demands[i];
    demand.source_addresses = agent.source_addresses;
    CapacityRow row = ComputeCapacity(demand, *probes[i].facts);
    result.errors.insert(result.errors.end(), row.errors.begin(), row.errors.end());
    for (Limit limit : row.exceeded) {
      const std::string name(LimitName(limit));
      if (std::find(result.exceeded_limits.begin(), result.exceeded_limits.end(), name) ==
          result.exceeded_limits.end()) {
        result.exceeded_limits.push_back(name);
      }
    }
    result.warnings.insert(result.warnings.end(), row.warnings.begin(), row.warnings.end());
    if (std::optional<std::string> warning =
            TimeWaitWarning(plan.load, agent.endpoint, demand.connections,
                            static_cast<double>(demand.connections) / static_cast<double>(plan.connections),
                            row.port_capacity)) {
      result.warnings.push_back(*warning);
    }
    rows.push_back(std::move(row));
  }
  if (!rows.empty()) result.table = FormatCapacityTable(rows);
  return result;
}

}  // namespace fourtuple::coordinator
