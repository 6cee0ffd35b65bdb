#include "coordinator/agent_discovery.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/wire_limits.h"
#include "coordinator/split.h"

namespace fourtuple::coordinator {
namespace {

// Address order (family, then bytes), so a name whose records come back
// shuffled (DNS round robin) still gives the same agent order run to run.
bool AddressLess(const IpAddress& a, const IpAddress& b) {
  if (a.family != b.family) return a.family < b.family;
  if (a.family == AF_INET) return ntohl(a.v4.s_addr) < ntohl(b.v4.s_addr);
  return std::memcmp(&a.v6, &b.v6, sizeof(a.v6)) < 0;
}

// The source_addresses path of an agent's k-th "local:" spec.
std::string LocalSpecPath(const AgentPlan& agent, size_t k, std::string* spec) {
  size_t seen = 0;
  for (size_t j = 0; j < agent.source_specs.size(); ++j) {
    if (!absl::StartsWith(agent.source_specs[j], kLocalSourcePrefix)) continue;
    if (seen++ == k) {
      *spec = agent.source_specs[j];
      return absl::StrCat("plan.agents[", agent.plan_index, "].source_addresses[", j, "]");
    }
  }
  *spec = absl::StrCat(kLocalSourcePrefix, agent.local_source_prefixes[k].ToString());
  return absl::StrCat("plan.agents[", agent.plan_index, "].source_addresses");
}

}  // namespace

absl::StatusOr<std::vector<IpAddress>> ResolveWithGetaddrinfo(absl::string_view name) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* results = nullptr;
  const std::string host(name);
  const int error = ::getaddrinfo(host.c_str(), nullptr, &hints, &results);
  if (error != 0) {
    return absl::UnavailableError(error == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(error));
  }
  std::vector<IpAddress> addresses;
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    addresses.push_back(Endpoint::FromSockaddr(ai->ai_addr).address);
  }
  ::freeaddrinfo(results);
  return addresses;
}

absl::StatusOr<Plan> ExpandDnsAgents(Plan plan, const Resolver& resolve) {
  std::vector<AgentPlan> agents;
  bool expanded_any = false;
  for (AgentPlan& agent : plan.agents) {
    if (!absl::StartsWith(agent.endpoint, kDnsEndpointScheme)) {
      agents.push_back(std::move(agent));
      continue;
    }
    expanded_any = true;
    const std::string path = absl::StrCat("plan.agents[", agent.plan_index, "].endpoint");
    absl::string_view host_port = absl::string_view(agent.endpoint).substr(kDnsEndpointScheme.size());
    const size_t colon = host_port.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
        port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": expected dns:///NAME:PORT, got ", agent.endpoint));
    }
    const absl::string_view name = host_port.substr(0, colon);
    absl::StatusOr<std::vector<IpAddress>> addresses = resolve(name);
    if (!addresses.ok()) {
      return absl::UnavailableError(absl::StrCat(path, ": ", agent.endpoint, ": cannot resolve ", name, " (",
                                                 addresses.status().message(), ")"));
    }
    std::sort(addresses->begin(), addresses->end(), AddressLess);
    addresses->erase(std::unique(addresses->begin(), addresses->end()), addresses->end());
    if (addresses->empty()) {
      return absl::UnavailableError(
          absl::StrCat(path, ": ", agent.endpoint, ": ", name, " resolves to no address"));
    }
    for (const IpAddress& address : *addresses) {
      AgentPlan one = agent;
      one.endpoint = Endpoint{address, static_cast<uint16_t>(port)}.ToString();
      agents.push_back(std::move(one));
    }
  }
  plan.agents = std::move(agents);
  if (!expanded_any) return plan;

  std::map<std::string, size_t> owner;  // endpoint -> plan index
  for (const AgentPlan& agent : plan.agents) {
    auto [it, inserted] = owner.emplace(agent.endpoint, agent.plan_index);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("plan.agents[", agent.plan_index, "].endpoint: agent ",
                                                     agent.endpoint, " is also plan.agents[", it->second,
                                                     "] (a dns:/// name resolves to it)"));
    }
  }
  absl::StatusOr<std::vector<AgentShare>> shares = SplitPlan(plan);
  if (!shares.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("plan.agents: with dns:/// names expanded to ",
                                                   plan.agents.size(), " agents, ",
                                                   shares.status().message()));
  }
  return plan;
}

absl::Status ResolveLocalSources(const v1::HostFacts& facts, AgentPlan* agent) {
  if (agent->local_source_prefixes.empty()) return absl::OkStatus();
  std::vector<IpAddress> local;
  for (const std::string& text : facts.local_addresses()) {
    absl::StatusOr<IpAddress> address = ParseIpAddress(text);
    if (address.ok()) local.push_back(*address);  // skips scoped "fe80::1%eth0"
  }
  std::set<std::string> listed(agent->source_addresses.begin(), agent->source_addresses.end());
  for (size_t k = 0; k < agent->local_source_prefixes.size(); ++k) {
    const Cidr& prefix = agent->local_source_prefixes[k];
    size_t matched = 0;
    for (const IpAddress& address : local) {
      if (!prefix.Contains(address)) continue;
      ++matched;
      std::string text = address.ToString();
      if (listed.insert(text).second) agent->source_addresses.push_back(std::move(text));
    }
    if (matched == 0) {
      std::string spec;
      const std::string path = LocalSpecPath(*agent, k, &spec);
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": agent ", agent->endpoint, " (host ", facts.hostname(), ") has no address in ",
                       prefix.ToString(), " for \"", spec,
                       "\" (its addresses: ", absl::StrJoin(facts.local_addresses(), ", "),
                       "); add aliases with deploy/host/sources.sh or widen the prefix"));
    }
  }
  if (agent->source_addresses.size() > static_cast<size_t>(kMaxSourceAddresses)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan.agents[", agent->plan_index, "].source_addresses: agent ", agent->endpoint, " would get ",
        agent->source_addresses.size(), " source addresses, at most ", kMaxSourceAddresses));
  }
  return absl::OkStatus();
}

}  // namespace fourtuple::coordinator
