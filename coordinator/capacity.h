// Capacity preflight: how many connections one agent can open and hold with
// the share of a plan it is given, which limit binds first, and the human
// sentences that name each problem and its fix in numbers
// (docs/plan-and-report.md, "Preflight"). Per agent:
//
//   capacity = min(worker processes x fd budget per process (or fs.file-max),
//                  source addresses x target endpoints x ephemeral ports,
//                  90% of available memory / bytes per connection,
//                  free conntrack entries, when the table exists)
//
// Only the agent's own host facts are known here; settings that matter on
// the target host (somaxconn, the SYN backlog) are checked against the agent
// host's values as warnings, and say so.
//
// Thread-safety: pure functions over plain values; safe from any thread.
#ifndef FOURTUPLE_COORDINATOR_CAPACITY_H_
#define FOURTUPLE_COORDINATOR_CAPACITY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/wire_limits.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// Memory one connection costs on the agent's host: kernel slab plus user
// state. bench/scale.sh measured 10,282 B of slab per loopback connection
// PAIR on kernel 6.18 (two TCP sockets, two socket inodes, files, dentries,
// epoll items and port tracking), the same for the kernel-floor echo pair
// (bench/README.md) and for fourtuple, so one endpoint is ~5,140 B; the agent adds ~140 B of user
// memory per connection (its 32-byte record, its workers' share).
// When the target runs on the same host (loopback) its accepted sockets cost
// as much again: pass twice this in AgentDemand::memory_bytes_per_connection.
inline constexpr double kAgentBytesPerConnection = 5300;

// Share of MemAvailable the plan may use: the rest stays for page cache, the
// agent's and other processes' growth during the run.
inline constexpr uint64_t kUsableMemoryPercent = 90;

// Above this fill of a (source address, target endpoint) pair's port range
// the kernel's port search for connect() slows down: warn.
inline constexpr double kPortFillWarning = 0.5;

// What a plan asks of one agent.
struct AgentDemand {
  // The agent as messages name it (its endpoint or a label).
  std::string name;
  // This agent's share of the plan's connections.
  uint64_t connections = 0;
  // Source addresses expanded to single addresses ("127.0.1.1", "::1").
  std::vector<std::string> source_addresses;
  // Distinct target endpoints (ADDR:PORT); each (source address, endpoint)
  // pair has its own ephemeral port range.
  uint32_t target_endpoints = 0;
  // Worker processes the plan fixes (Assignment.processes); 0 = the agent
  // decides: its --processes flag (HostFacts.processes) or, when that is
  // auto too, as many as the fd budget needs.
  uint32_t processes = 0;
  // Connects this agent keeps in flight at once (its max_in_flight share)
  // when the target listens on this agent's host; 0 skips the listen-backlog
  // warning (another host's backlog is not this host's business).
  uint32_t connect_burst = 0;
  // Memory per connection on this agent's host, bytes. Default
  // kAgentBytesPerConnection; pass 2x when the target shares the host.
  double memory_bytes_per_connection = kAgentBytesPerConnection;
  // Memory is the host's, not the agent's: every agent on this agent's host
  // (see HostKey) with the connections they hold between them, and the
  // distinct hostnames they report (several when --host-label differs).
  // Null: this agent alone. GroupDemandsByHost fills them, one list shared
  // by the host's agents (a thousand agents on a host are one list, not a
  // thousand copies of it).
  std::shared_ptr<const std::vector<std::string>> host_agents;
  uint64_t host_connections = 0;
  std::shared_ptr<const std::vector<std::string>> host_names;
};

// What says two agents share a host's memory: the kernel they run on, named
// by its boot id (HostFacts.boot_id: one for every container and network
// namespace on that kernel, whatever --host-label each agent reports), or by
// the reported hostname when the agent sent no boot id.
std::string HostKey(const v1::HostFacts& facts);

// Fills every demand's host_agents, host_connections and host_names from the
// demands whose facts have the same HostKey. `facts[i]` is demands[i]'s
// agent's; null when the agent was not probed (it shares with nobody).
void GroupDemandsByHost(const std::vector<const v1::HostFacts*>& facts, std::vector<AgentDemand>& demands);

// Which limit caps an agent's connections.
enum class Limit { kNone, kPorts, kFds, kMemory, kConntrack, kNonLocalSource };

// "ports", "fds", "memory", "conntrack", "non-local source", "-".
absl::string_view LimitName(Limit limit);

// One line of the preflight table plus what it found.
struct CapacityRow {
  std::string agent;  // AgentDemand::name
  std::string host;   // HostFacts.hostname

  // File descriptors. `processes` is the worker count the agent will start
  // (in auto mode: what it would pick for this share). fd_capacity is
  // processes x fd_budget_per_process, or in auto mode what the agent's
  // process cap allows; either way no more than fs.file-max leaves.
  bool processes_auto = false;
  uint64_t processes = 0;
  uint64_t fd_budget_per_process = 0;
  uint64_t fd_capacity = 0;
  bool fd_capacity_by_file_max = false;  // fs.file-max is what caps fd_capacity

  // Four-tuples: sources x endpoints x ports_per_pair.
  uint64_t sources = 0;
  uint64_t endpoints = 0;
  uint64_t ports_per_pair = 0;
  uint64_t port_capacity = 0;

  uint64_t memory_available_bytes = 0;
  double memory_bytes_per_connection = kAgentBytesPerConnection;
  uint64_t memory_capacity = 0;

  // conntrack_max - conntrack_count; UINT64_MAX when there is no table.
  uint64_t conntrack_capacity = 0;

  uint64_t requested = 0;
  uint64_t capacity = 0;  // the smallest of the capacities above
  // kNonLocalSource whenever a source address is not on the host (the plan
  // cannot run as written, whatever the counts); otherwise the smallest
  // capacity, over or not (ties: ports, fds, memory, conntrack).
  Limit binding = Limit::kNone;

  std::vector<std::string> non_local_sources;  // every one, in plan order
  // Each a full sentence naming the agent, the limit and the fix in numbers.
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  // The limits the errors are about, in check order (what gave, for the
  // report of a refused run).
  std::vector<Limit> exceeded;

  bool ok() const { return errors.empty(); }
};

// Checks one agent's demand against its host facts. Every limit that is
// exceeded gets its own error, not just the binding one.
CapacityRow ComputeCapacity(const AgentDemand& demand, const v1::HostFacts& facts);

// The rows as an aligned plain-text table with a header line, one line per
// row, each line ending in '\n' (text_table.h). Numbers are written as
// common/human_format.h writes them: 40,000 connections, 5.2 KiB.
std::string FormatCapacityTable(const std::vector<CapacityRow>& rows);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_CAPACITY_H_
