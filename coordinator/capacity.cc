#include "coordinator/capacity.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/address.h"
#include "common/host_facts.h"
#include "common/human_format.h"
#include "common/local_routes.h"
#include "coordinator/text_table.h"

namespace fourtuple::coordinator {
namespace {

// Agents or host names listed in one sentence; the rest are counted.
constexpr size_t kNamesListed = 10;

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

// The widest ephemeral range Linux allows past the privileged ports: what
// "widen net.ipv4.ip_local_port_range" can reach at best.
constexpr uint64_t kWidestPortRange = 65535 - 1024 + 1;

// Past this many, non-local source addresses are counted, not listed: a
// mistyped /16 would otherwise print thousands of lines.
constexpr size_t kNonLocalListed = 5;

uint64_t SaturatingMultiply(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kUnlimited / b ? kUnlimited : a * b;
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > kUnlimited - b ? kUnlimited : a + b; }

uint64_t SaturatingSubtract(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// b > 0.
uint64_t CeilDivide(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

uint64_t EphemeralPorts(const v1::HostFacts& facts) {
  return facts.port_range_high() >= facts.port_range_low()
             ? uint64_t{facts.port_range_high()} - facts.port_range_low() + 1
             : 0;
}

// Messages say "host lab2"; an agent that reported no hostname is named by
// its endpoint instead.
std::string HostOf(const AgentDemand& demand, const v1::HostFacts& facts) {
  return facts.hostname().empty() ? demand.name : facts.hostname();
}

// The source entries the host cannot bind, in plan order: a single address
// must be on an interface (any 127.x.y.z binds when 127.0.0.1 is there), a
// prefix inside one of the host's local routes (common/local_routes.h).
std::vector<std::string> NonLocalSources(const std::vector<std::string>& sources,
                                         const v1::HostFacts& facts) {
  std::vector<std::string> address_texts(facts.local_addresses().begin(), facts.local_addresses().end());
  std::vector<IpAddress> local;
  for (const std::string& text : address_texts) {
    absl::StatusOr<IpAddress> address = ParseIpAddress(text);
    if (address.ok()) local.push_back(*address);
  }
  const std::vector<Cidr> routes =
      ParseLocalRoutes(std::vector<std::string>(facts.local_routes().begin(), facts.local_routes().end()));
  std::vector<std::string> missing;
  for (const std::string& text : sources) {
    absl::StatusOr<Cidr> entry = ParseCidr(text);
    bool found = false;
    if (entry.ok()) {
      found = SourceIsLocal(*entry, local, routes);
    } else {
      // A form ParseCidr does not read (a scoped "fe80::1%eth0") can only
      // match by its text.
      found = std::find(address_texts.begin(), address_texts.end(), text) != address_texts.end();
    }
    if (!found) missing.push_back(text);
  }
  return missing;
}

// The number of addresses of the source entries, saturated.
uint64_t SourceAddressCount(const std::vector<std::string>& sources) {
  uint64_t total = 0;
  for (const std::string& text : sources) {
    absl::StatusOr<Cidr> entry = ParseCidr(text);
    const absl::uint128 size = entry.ok() ? entry->Size() : 1;
    total = SaturatingAdd(total, size > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(size));
  }
  return total;
}

// The file-descriptor limit: per process (processes x budget) and system
// wide (fs.file-max). Fills the fd fields of `row` and adds errors.
void CheckFds(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const uint64_t n = demand.connections;
  const uint64_t budget = FdBudgetPerProcess(facts.nofile_soft());
  const bool from_plan = demand.processes != 0;
  const uint64_t fixed = from_plan ? demand.processes : facts.processes();
  row.fd_budget_per_process = budget;
  row.processes_auto = fixed == 0;

  uint64_t per_process_capacity = 0;
  if (fixed != 0) {
    row.processes = fixed;
    per_process_capacity = SaturatingMultiply(fixed, budget);
  } else {
    // What agent/worker_plan.cc DecideWorkerCount picks: enough processes
    // for the fd budget, at least one per core, never more than connections.
    const uint64_t needed = budget == 0 ? kUnlimited : CeilDivide(n, budget);
    row.processes =
        std::min(std::max<uint64_t>(needed, std::max<uint32_t>(facts.cores(), 1)), std::max<uint64_t>(n, 1));
    row.processes = std::min(row.processes, uint64_t{kMaxProcesses});
    per_process_capacity = SaturatingMultiply(uint64_t{kMaxProcesses}, budget);
  }

  // fs.file-max counts every open file on the host; each worker keeps its
  // reserve open besides its connections. When the target shares the host
  // its sockets count too, which only the caller knows. 0 = not reported.
  const uint64_t reserve = SaturatingMultiply(row.processes, kFdReserve);
  const uint64_t file_max_capacity =
      facts.file_max() == 0 ? kUnlimited : SaturatingSubtract(facts.file_max(), reserve);
  row.fd_capacity = std::min(per_process_capacity, file_max_capacity);
  row.fd_capacity_by_file_max = file_max_capacity < per_process_capacity;

  const std::string& agent = demand.name;
  if (n > per_process_capacity) {
    const uint64_t processes = fixed != 0 ? fixed : uint64_t{kMaxProcesses};
    const uint64_t raise_to = SaturatingAdd(CeilDivide(n, processes), kFdReserve);
    std::string raise = absl::StrCat("raise LimitNOFILE / ulimit -n to ", FormatCount(raise_to));
    if (facts.nr_open() != 0 && raise_to > facts.nr_open()) {
      // The hard limit cannot pass fs.nr_open.
      absl::StrAppend(&raise, " (and fs.nr_open, now ", FormatCount(facts.nr_open()), ", to at least that)");
    }
    if (budget == 0) {
      row.errors.push_back(absl::StrCat("agent ", agent, ": RLIMIT_NOFILE ", FormatCount(facts.nofile_soft()),
                                        " leaves no fds for connections (", kFdReserve,
                                        " per process are reserved): ", raise));
    } else {
      const uint64_t needed = CeilDivide(n, budget);
      std::string sentence =
          absl::StrCat("agent ", agent, ": ", CountPhrase(n, "connection needs", "connections need"), " ",
                       CountPhrase(needed, "worker process", "worker processes"), " at ", FormatCount(budget),
                       " fds each (RLIMIT_NOFILE ", FormatCount(facts.nofile_soft()), ")");
      if (fixed == 0 || needed > uint64_t{kMaxProcesses}) {
        absl::StrAppend(&sentence, ", more than the ", FormatCount(uint64_t{kMaxProcesses}),
                        " an agent starts: ", raise, ", or spread the connections over more agents");
      } else if (from_plan) {
        absl::StrAppend(&sentence, ": set \"processes\": ", needed, " in the plan, or ", raise);
      } else {
        absl::StrAppend(&sentence, ": use --processes=", needed, ", or ", raise);
      }
      row.errors.push_back(std::move(sentence));
    }
  }
  if (n > file_max_capacity) {
    const uint64_t files = SaturatingAdd(n, reserve);
    row.errors.push_back(absl::StrCat(
        "agent ", agent, ": ", CountPhrase(n, "connection needs", "connections need"), " about ",
        FormatCount(files), " open files on host ", HostOf(demand, facts), " but fs.file-max is ",
        FormatCount(facts.file_max()), ": raise fs.file-max to at least ", FormatCount(files),
        " (sysctl -w fs.file-max=", files, ")"));
  }
}

// Four-tuples: IP_BIND_ADDRESS_NO_PORT lets the kernel pick the source port
// per (source, destination address, destination port), so each pair has the
// whole ephemeral range (net.ipv4.ip_local_port_range serves IPv6 too), and
// the agent spreads connections evenly over the pairs
// (agent/worker/source_space.h).
void CheckPorts(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const uint64_t n = demand.connections;
  row.sources = SourceAddressCount(demand.source_addresses);
  row.endpoints = demand.target_endpoints;
  row.ports_per_pair = EphemeralPorts(facts);
  const uint64_t pairs = SaturatingMultiply(row.sources, row.endpoints);
  row.port_capacity = SaturatingMultiply(pairs, row.ports_per_pair);

  const std::string& agent = demand.name;
  const std::string range =
      absl::StrCat(facts.port_range_low(), "\xE2\x80\x93", facts.port_range_high());  // en dash
  if (n > row.port_capacity) {
    if (row.sources == 0) {
      row.errors.push_back(absl::StrCat("agent ", agent, " has no source addresses: give it at least one"));
      return;
    }
    if (row.endpoints == 0) {
      row.errors.push_back(
          absl::StrCat("agent ", agent, " has no target endpoints: give the plan at least one"));
      return;
    }
    if (row.ports_per_pair == 0) {
      row.errors.push_back(absl::StrCat(
          "agent ", agent, ": net.ipv4.ip_local_port_range on host ", HostOf(demand, facts), " is ", range,
          ", which leaves no ephemeral ports: set it to a range such as 1024 65535"));
      return;
    }
    const uint64_t per_source = SaturatingMultiply(row.endpoints, row.ports_per_pair);
    const uint64_t sources_needed = CeilDivide(n, per_source);
    std::string sentence =
        absl::StrCat("agent ", agent, ": ", CountPhrase(n, "connection", "connections"), " to ",
                     CountPhrase(row.endpoints, "endpoint", "endpoints"), " from ",
                     CountPhrase(row.sources, "source address", "source addresses"), " need at least ",
                     CountPhrase(sources_needed, "source address", "source addresses"), " (",
                     FormatCount(row.ports_per_pair),
                     row.endpoints == 1 ? " ports each in " : " ports to each endpoint in ", range, "): add ",
                     FormatCount(sources_needed - row.sources), " more");
    // A pair can never have more ports than the widest range.
    if (CeilDivide(n, pairs) <= kWidestPortRange) {
      absl::StrAppend(&sentence, ", or widen net.ipv4.ip_local_port_range");
    }
    const uint64_t per_endpoint = SaturatingMultiply(row.sources, row.ports_per_pair);
    const uint64_t endpoints_to_add = CeilDivide(n, per_endpoint) - row.endpoints;
    if (endpoints_to_add == 1) {
      absl::StrAppend(&sentence, ", or add a target port");
    } else {
      absl::StrAppend(&sentence, ", or add ", FormatCount(endpoints_to_add), " target ports");
    }
    row.errors.push_back(std::move(sentence));
    return;
  }

  if (pairs == 0 || n == 0) return;
  const uint64_t per_pair = CeilDivide(n, pairs);
  if (static_cast<double>(per_pair) > kPortFillWarning * static_cast<double>(row.ports_per_pair)) {
    const uint64_t half = std::max<uint64_t>(
        static_cast<uint64_t>(kPortFillWarning * static_cast<double>(row.ports_per_pair)), 1);
    const uint64_t sources_for_half = CeilDivide(n, SaturatingMultiply(row.endpoints, half));
    row.warnings.push_back(absl::StrCat(
        "agent ", agent, ": each source address and target endpoint pair takes up to ", FormatCount(per_pair),
        " of its ", FormatCount(row.ports_per_pair), " ports in ", range, " (",
        FormatPercent(static_cast<double>(per_pair), static_cast<double>(row.ports_per_pair)),
        "); the kernel's port search slows as a range fills: add source addresses or target "
        "ports (",
        CountPhrase(sources_for_half, "source address keeps", "source addresses keep"),
        " each pair at half)"));
  }
}

void CheckMemory(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const uint64_t n = demand.connections;
  const bool shared_host =
      demand.host_agents != nullptr && demand.host_agents->size() > 1 && demand.host_connections > n;
  const double per_connection =
      demand.memory_bytes_per_connection > 0 ? demand.memory_bytes_per_connection : kAgentBytesPerConnection;
  row.memory_available_bytes = facts.memory_available_bytes();
  row.memory_bytes_per_connection = per_connection;
  // In integers, so 90% of a round figure stays round.
  const uint64_t available = facts.memory_available_bytes();
  const uint64_t usable =
      available / 100 * kUsableMemoryPercent + available % 100 * kUsableMemoryPercent / 100;
  row.memory_capacity = static_cast<uint64_t>(std::floor(static_cast<double>(usable) / per_connection));
  if (shared_host) {
    const uint64_t total = demand.host_connections;
    // Reported once, by the host's first agent.
    if (total <= row.memory_capacity || demand.host_agents->front() != demand.name) return;
    std::string host = HostOf(demand, facts);
    if (demand.host_names != nullptr && demand.host_names->size() > 1) {
      const std::vector<std::string> others(demand.host_names->begin() + 1, demand.host_names->end());
      absl::StrAppend(&host, " (one kernel, also reported as ", JoinSome(others, kNamesListed), ")");
    }
    row.errors.push_back(absl::StrCat(
        "host ", host, ": its ", FormatCount(demand.host_agents->size()), " agents (",
        JoinSome(*demand.host_agents, kNamesListed), ") hold ", FormatCount(total),
        " connections between them, which need about ",
        FormatBytes(static_cast<double>(total) * per_connection), " of memory (", FormatBytes(per_connection),
        " each); ", FormatBytes(static_cast<double>(facts.memory_available_bytes())),
        " is available: give them at most ", FormatCount(row.memory_capacity), " together (",
        kUsableMemoryPercent,
        "% of what is available) and the rest to agents on other hosts, or free memory"));
    return;
  }
  if (n <= row.memory_capacity) return;
  row.errors.push_back(absl::StrCat(
      "agent ", demand.name, ": ", CountPhrase(n, "connection needs", "connections need"), " about ",
      FormatBytes(static_cast<double>(n) * per_connection), " of memory (", FormatBytes(per_connection),
      " each); ", FormatBytes(static_cast<double>(facts.memory_available_bytes())), " is available on host ",
      HostOf(demand, facts), ": give this agent at most ", FormatCount(row.memory_capacity), " connections (",
      kUsableMemoryPercent, "% of what is available) and the rest to other agents, or free memory"));
}

// One conntrack entry per connection when nf_conntrack is loaded; a full
// table drops new SYNs silently, which looks like connect timeouts.
void CheckConntrack(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const uint64_t n = demand.connections;
  // The probe that brought these facts came over a TCP connection to the
  // agent: were connection tracking hooked in the agent's network namespace,
  // that connection would be an entry. None in use means nothing is tracked
  // there (nf_conntrack is merely loaded, say for another namespace).
  if (!facts.conntrack_present() || facts.conntrack_count() == 0) {
    row.conntrack_capacity = kUnlimited;
    return;
  }
  row.conntrack_capacity = SaturatingSubtract(facts.conntrack_max(), facts.conntrack_count());
  if (n <= row.conntrack_capacity) return;
  const uint64_t needed = SaturatingAdd(facts.conntrack_count(), n);
  row.errors.push_back(absl::StrCat(
      "agent ", demand.name, ": ", CountPhrase(n, "connection needs", "connections need"), " ",
      CountPhrase(n, "conntrack entry", "conntrack entries"), " but host ", HostOf(demand, facts), " has ",
      FormatCount(row.conntrack_capacity), " free (net.netfilter.nf_conntrack_max ",
      FormatCount(facts.conntrack_max()), ", ", FormatCount(facts.conntrack_count()),
      " in use): raise net.netfilter.nf_conntrack_max to at least ", FormatCount(needed),
      " (sysctl -w net.netfilter.nf_conntrack_max=", needed, ")"));
}

void CheckSources(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const std::string host = HostOf(demand, facts);
  if (facts.local_addresses().empty()) {
    // Every host has at least loopback: an empty list means the agent did
    // not report it, not that no address binds.
    if (!demand.source_addresses.empty()) {
      row.warnings.push_back(absl::StrCat("agent ", demand.name, ": host ", host,
                                          " reported no local addresses, so its source "
                                          "addresses were not checked"));
    }
    return;
  }
  row.non_local_sources = NonLocalSources(demand.source_addresses, facts);
  const size_t listed = std::min(row.non_local_sources.size(), kNonLocalListed);
  for (size_t i = 0; i < listed; ++i) {
    const std::string& address = row.non_local_sources[i];
    absl::StatusOr<Cidr> entry = ParseCidr(address);
    if (entry.ok() && !entry->IsSingle()) {
      row.errors.push_back(absl::StrCat("agent ", demand.name, ": source prefix ", address,
                                        " is inside no local route of host ", host, ": ",
                                        HowToMakeLocal(*entry), " or remove it from the plan"));
      continue;
    }
    const bool v6 = address.find(':') != std::string::npos;
    row.errors.push_back(absl::StrCat("agent ", demand.name, ": source address ", address,
                                      " is not an address of host ", host,
                                      ": add it (deploy/host/sources.sh add IFACE ", address,
                                      v6 ? "/128" : "/32", ") or remove it from the plan"));
  }
  if (row.non_local_sources.size() > listed) {
    row.errors.push_back(absl::StrCat("agent ", demand.name, ": and ",
                                      CountPhrase(row.non_local_sources.size() - listed,
                                                  "more source address is", "more source addresses are"),
                                      " not on host ", host,
                                      " either: add them or remove them from the plan"));
  }
}

// net.core.somaxconn caps every listener's accept queue on its host. A
// connect burst above it can overflow a slow target's queue, and the kernel
// then drops SYNs that the clients retry after 1 s, 3 s, ...: slow connects.
// Only the target host's value counts, so the warning comes only when the
// target listens on this agent's host (connect_burst is 0 otherwise; after
// the run the report diagnoses overflows wherever they happened).
// tcp_max_syn_backlog is left alone: with SYN cookies (the default) a full
// SYN queue answers with cookies instead of dropping.
void CheckBacklogs(const AgentDemand& demand, const v1::HostFacts& facts, CapacityRow& row) {
  const uint64_t burst = demand.connect_burst;
  if (burst == 0 || facts.somaxconn() == 0 || facts.somaxconn() >= burst) return;
  row.warnings.push_back(
      absl::StrCat("agent ", demand.name, ": net.core.somaxconn is ", FormatCount(facts.somaxconn()),
                   " on host ", HostOf(demand, facts),
                   ", where the target listens, below this agent's max_in_flight of ", FormatCount(burst),
                   ": if the target accepts slowly its accept queue overflows and connects wait "
                   "for SYN retransmits (1 s, 3 s, ...); raise it (sysctl -w net.core.somaxconn=",
                   burst, ") and the target's listen backlog, or lower max_in_flight"));
}

std::string FdCell(const CapacityRow& row) {
  constexpr absl::string_view kTimes = " \xC3\x97 ";      // " × "
  constexpr absl::string_view kArrow = " \xE2\x86\x92 ";  // " → "
  std::string cell;
  if (row.processes_auto) {
    cell = absl::StrCat("auto ", FormatCount(row.processes), kTimes, FormatCount(row.fd_budget_per_process),
                        kArrow, FormatCount(row.fd_capacity));
    absl::StrAppend(&cell, row.fd_capacity_by_file_max
                               ? " (file-max)"
                               : absl::StrCat(" (", FormatCount(uint64_t{kMaxProcesses}), " max)"));
    return cell;
  }
  cell = absl::StrCat(FormatCount(row.processes), kTimes, FormatCount(row.fd_budget_per_process), " = ",
                      FormatCount(SaturatingMultiply(row.processes, row.fd_budget_per_process)));
  if (row.fd_capacity_by_file_max) {
    absl::StrAppend(&cell, kArrow, FormatCount(row.fd_capacity), " (file-max)");
  }
  return cell;
}

std::string PortCell(const CapacityRow& row) {
  constexpr absl::string_view kTimes = " \xC3\x97 ";
  return absl::StrCat(FormatCount(row.sources), kTimes, FormatCount(row.endpoints), kTimes,
                      FormatCount(row.ports_per_pair), " = ", FormatCount(row.port_capacity));
}

std::string MemoryCell(const CapacityRow& row) {
  return absl::StrCat(FormatBytes(static_cast<double>(row.memory_available_bytes)), " / ",
                      FormatBytes(row.memory_bytes_per_connection), " \xE2\x86\x92 ",
                      FormatCount(row.memory_capacity));
}

std::string LimitCell(const CapacityRow& row) {
  std::string cell(LimitName(row.binding));
  if (row.binding != Limit::kNonLocalSource && row.requested > row.capacity) {
    absl::StrAppend(&cell, " (over by ", FormatCount(row.requested - row.capacity), ")");
  }
  return cell;
}

}  // namespace

absl::string_view LimitName(Limit limit) {
  switch (limit) {
    case Limit::kNone:
      return "-";
    case Limit::kPorts:
      return "ports";
    case Limit::kFds:
      return "fds";
    case Limit::kMemory:
      return "memory";
    case Limit::kConntrack:
      return "conntrack";
    case Limit::kNonLocalSource:
      return "non-local source";
  }
  return "-";
}

std::string HostKey(const v1::HostFacts& facts) {
  return facts.boot_id().empty() ? absl::StrCat("hostname ", facts.hostname())
                                 : absl::StrCat("boot ", facts.boot_id());
}

void GroupDemandsByHost(const std::vector<const v1::HostFacts*>& facts, std::vector<AgentDemand>& demands) {
  std::map<std::string, std::vector<size_t>> by_host;
  for (size_t i = 0; i < demands.size() && i < facts.size(); ++i) {
    if (facts[i] != nullptr) by_host[HostKey(*facts[i])].push_back(i);
  }
  for (const auto& [key, members] : by_host) {
    std::vector<std::string> agents, names;
    uint64_t connections = 0;
    for (size_t i : members) {
      agents.push_back(demands[i].name);
      connections += demands[i].connections;
      const std::string& name = facts[i]->hostname();
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    auto shared_agents = std::make_shared<const std::vector<std::string>>(std::move(agents));
    auto shared_names = std::make_shared<const std::vector<std::string>>(std::move(names));
    for (size_t i : members) {
      demands[i].host_agents = shared_agents;
      demands[i].host_connections = connections;
      demands[i].host_names = shared_names;
    }
  }
}

CapacityRow ComputeCapacity(const AgentDemand& demand, const v1::HostFacts& facts) {
  CapacityRow row;
  row.agent = demand.name;
  row.host = facts.hostname();
  row.requested = demand.connections;

  // Each check, and the limit its errors are about.
  using Check = void (*)(const AgentDemand&, const v1::HostFacts&, CapacityRow&);
  const std::pair<Check, Limit> checks[] = {{CheckSources, Limit::kNonLocalSource},
                                            {CheckPorts, Limit::kPorts},
                                            {CheckFds, Limit::kFds},
                                            {CheckMemory, Limit::kMemory},
                                            {CheckConntrack, Limit::kConntrack},
                                            {CheckBacklogs, Limit::kNone}};
  for (const auto& [check, limit] : checks) {
    const size_t errors_before = row.errors.size();
    check(demand, facts, row);
    if (row.errors.size() > errors_before && limit != Limit::kNone) row.exceeded.push_back(limit);
  }

  // Ties keep the earlier limit: ports first, as the one people misjudge.
  const std::pair<uint64_t, Limit> limits[] = {{row.port_capacity, Limit::kPorts},
                                               {row.fd_capacity, Limit::kFds},
                                               {row.memory_capacity, Limit::kMemory},
                                               {row.conntrack_capacity, Limit::kConntrack}};
  row.capacity = kUnlimited;
  row.binding = Limit::kNone;
  for (const auto& [capacity, limit] : limits) {
    if (capacity < row.capacity) {
      row.capacity = capacity;
      row.binding = limit;
    }
  }
  if (!row.non_local_sources.empty()) row.binding = Limit::kNonLocalSource;
  return row;
}

std::string FormatCapacityTable(const std::vector<CapacityRow>& rows) {
  constexpr absl::string_view kTimes = " \xC3\x97 ";
  std::vector<std::vector<std::string>> cells = {
      {"agent", "host", absl::StrCat("processes", kTimes, "fds"),
       absl::StrCat("sources", kTimes, "endpoints", kTimes, "ports"), "memory", "conntrack", "requested",
       "capacity", "limit"}};
  for (const CapacityRow& row : rows) {
    cells.push_back({row.agent, row.host.empty() ? "-" : row.host, FdCell(row), PortCell(row),
                     MemoryCell(row),
                     row.conntrack_capacity == kUnlimited ? "-" : FormatCount(row.conntrack_capacity),
                     FormatCount(row.requested), FormatCount(row.capacity), LimitCell(row)});
  }
  // Counts read best right-aligned, so their digits line up.
  return FormatTextTable(cells, {false, false, false, false, false, true, true, true, false});
}

}  // namespace fourtuple::coordinator
