// Turns a plan's agent entries into concrete agents: a "dns:///NAME:PORT"
// endpoint becomes one agent per address NAME resolves to (a Kubernetes
// headless Service names every agent pod that way), and "local:CIDR" source
// specs become the addresses each agent's host really has.
//
// Expansion runs before anything talks to an agent; local sources are
// resolved from each agent's Probe during preflight.
//
// Thread-safety: pure functions apart from the resolver (getaddrinfo is
// thread-safe).
#ifndef FOURTUPLE_COORDINATOR_AGENT_DISCOVERY_H_
#define FOURTUPLE_COORDINATOR_AGENT_DISCOVERY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/address.h"
#include "coordinator/plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// Every address `name` resolves to (A and AAAA records, /etc/hosts); errors
// are Unavailable and carry the resolver's reason.
using Resolver = std::function<absl::StatusOr<std::vector<IpAddress>>(absl::string_view name)>;

// The system resolver (getaddrinfo).
absl::StatusOr<std::vector<IpAddress>> ResolveWithGetaddrinfo(absl::string_view name);

// Replaces each dns:/// agent with one agent per resolved address, in address
// order, each keeping the entry's source specs and connection count (a count
// on a dns:/// entry is per resolved agent). Errors name the plan field:
// Unavailable when a name does not resolve (the coordinator exits 3, as for
// an unreachable agent), InvalidArgument when the expanded agents collide
// with another entry or no longer fit the plan's total (exit 2).
absl::StatusOr<Plan> ExpandDnsAgents(Plan plan, const Resolver& resolve = ResolveWithGetaddrinfo);

// Appends to agent->source_addresses every address of the agent's host (as
// its Probe lists them) inside one of its local_source_prefixes, skipping
// ones already listed. FailedPrecondition, naming the plan field and the
// host's addresses, when a prefix matches none of them.
absl::Status ResolveLocalSources(const v1::HostFacts& facts, AgentPlan* agent);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_AGENT_DISCOVERY_H_
