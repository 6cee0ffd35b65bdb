// The run plan: what docs/plan-and-report.md's "The plan" describes, parsed,
// validated and with every optional field's default filled in.
//
// Errors name the field's path ("agents[1].source_addresses[0]") and what was
// expected, so a user can fix the file without reading code. Every error is
// InvalidArgument (the coordinator exits 2 on it).
//
// Thread-safety: plain values; ParsePlan and LoadPlan are reentrant.
#ifndef FOURTUPLE_COORDINATOR_PLAN_H_
#define FOURTUPLE_COORDINATOR_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/address.h"
#include "coordinator/load_model_plan.h"
#include "coordinator/tls_plan.h"
#include "coordinator/websocket_plan.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

struct EchoPlan {
  // Echo checks during the hold; 0 skips the echo check altogether.
  uint32_t rounds = 1;
  // Bytes per echo payload (carries agent, connection and round: >= 16; the
  // agent refuses more than 4096). Unused with send/expect.
  uint32_t payload_bytes = 16;
  // For servers that are not echo servers: what each connection sends per
  // round and the exact reply it must read back (UTF-8 bytes of the JSON
  // strings, 1..4096 each, always both). Empty: the unique-id payload.
  // Templates: "{id}" is the connection's id, "{{" a "{"
  // (conversation_plan.h).
  std::string send;
  std::string expect;
  // Bytes every connection must receive first (a server that speaks first);
  // empty: none.
  std::string greeting;
  // Sent once per connection after the greeting, before it counts as
  // established; the reply must be exactly first_expect. Templates as
  // send/expect; empty: none.
  std::string first_send;
  std::string first_expect;
  // Pause between the end of one round and the start of the next.
  absl::Duration interval = absl::Seconds(1);
  // How long each connection waits for its payload to come back.
  absl::Duration timeout = absl::Seconds(5);
  // Echo checks started per second in a round, whole run (0 = as fast as
  // max_in_flight allows). Unset: the round is spread over `interval`
  // (connections / interval), or unpaced when interval is 0.
  std::optional<double> rate;
};

struct AgentPlan {
  // gRPC address of the agent: "HOST:PORT" (a name or an address), or
  // "dns:///NAME:PORT", which stands for one agent per address NAME resolves
  // to (agent_discovery.h expands it before anything talks to an agent).
  std::string endpoint;
  // The source_addresses entries as written (single, a-b range, CIDR or
  // "local:CIDR").
  std::vector<std::string> source_specs;
  // The explicit entries in order: single addresses ("127.0.1.1"; a range
  // gives one per address) and prefixes ("2001:db8:7::/64", never expanded:
  // the agent binds inside them by offset); no address twice. "local:CIDR"
  // entries add theirs once the agent's host is known (agent_discovery.h
  // ResolveLocalSources).
  std::vector<std::string> source_addresses;
  // Connections each source address takes before the next one is used; 0:
  // one per target endpoint (round-robin over source and target pairs).
  uint64_t connections_per_source_address = 0;
  // The "local:CIDR" entries: every address of the agent's own host inside
  // one of these prefixes is a source. One spec then fits many hosts (the
  // nodes behind a dns:/// name each use their own addresses).
  std::vector<Cidr> local_source_prefixes;
  // Index of the plan's agents[] entry this agent comes from (several agents
  // share one after a dns:/// entry is expanded): error messages name it.
  size_t plan_index = 0;
  // This agent's own connection count, when the plan gives one.
  std::optional<uint64_t> connections;
};

// The prefix of an agent endpoint that names a DNS name to expand.
inline constexpr absl::string_view kDnsEndpointScheme = "dns:///";
// The prefix of a source spec that selects the agent host's own addresses.
inline constexpr absl::string_view kLocalSourcePrefix = "local:";

struct Plan {
  // Target endpoints ("ADDR:PORT"); connections spread round-robin over them.
  std::vector<std::string> target_endpoints;
  // gRPC TargetControl address of the target-server; empty when not given.
  std::string target_control;
  // target.tls: present, every connection runs a TLS handshake after TCP
  // connect and echoes inside TLS.
  std::optional<TlsPlan> tls;
  // target.websocket: present, every connection runs a WebSocket upgrade
  // after TCP (and TLS), and echo rounds travel as frames.
  std::optional<WebSocketPlan> websocket;
  std::vector<AgentPlan> agents;

  // Total connections over all agents (required, >= 1).
  uint64_t connections = 0;
  // New connections per second for the whole run; 0 = as fast as possible.
  double connect_rate = 0;
  // Connects pending at once, whole run (split over agents, >= 1 each).
  uint32_t max_in_flight = 1024;
  absl::Duration connect_timeout = absl::Seconds(5);
  // The barrier gives up waiting for every agent to finish its ramp after this.
  absl::Duration ramp_timeout = absl::Seconds(120);
  // How long connections stay open after the barrier (at least; the echo
  // rounds may take longer).
  absl::Duration hold = absl::Seconds(10);
  EchoPlan echo;
  // Agents report (and the coordinator prints progress) this often.
  absl::Duration report_interval = absl::Seconds(1);
  // An agent closes the run's connections when nothing arrives for this long.
  absl::Duration lease = absl::Seconds(10);
  // "close", "churn", "reconnect" (load_model_plan.h).
  LoadModelPlan load;
};

// The pace of an echo round for the whole run: echo.rate, or else the plan's
// connections spread over echo.interval; 0 = unpaced.
double RoundEchoRate(const Plan& plan);

// Parses and validates plan JSON text. Truncated or malformed JSON is reported
// with its line and column. Files the plan names (target.tls) are read
// relative to `base_dir` (empty: the working directory).
absl::StatusOr<Plan> ParsePlan(absl::string_view text, absl::string_view base_dir = "");

// Reads `path` and parses it; errors start with the path.
absl::StatusOr<Plan> LoadPlan(absl::string_view path);

// The plan as JSON with every default filled in (durations as "10s"); each
// agent shows the connection count it gets from the split. ParsePlan reads it
// back to an equivalent plan.
nlohmann::ordered_json PlanToJson(const Plan& plan);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PLAN_H_
