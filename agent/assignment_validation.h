// Checks a Run assignment as untrusted input before anything is started: a
// coordinator (or anyone who reaches the port) must not be able to point the
// agent at hosts outside --allow-targets, bind addresses it does not own, or
// ask for absurd sizes. Errors name the field ("assignment.targets[2]: ...").
// Thread-safety: pure functions.
#ifndef FOURTUPLE_AGENT_ASSIGNMENT_VALIDATION_H_
#define FOURTUPLE_AGENT_ASSIGNMENT_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/worker/source_space.h"
#include "common/address.h"
#include "common/wire_limits.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// What the agent allows, from its flags and the host.
struct ValidationPolicy {
  std::vector<Cidr> allow_targets;         // --allow-targets
  std::string allow_targets_text;          // for messages
  std::vector<IpAddress> local_addresses;  // addresses on this host's interfaces
  std::vector<Cidr> local_routes;          // prefixes of this host's local routes
};

// An assignment that passed validation, with its addresses parsed.
struct ValidatedAssignment {
  v1::Assignment assignment;
  std::vector<Endpoint> targets;
  SourceSpace sources;  // the source entries as one space of addresses
};

// Parses HostFacts.local_addresses strings; entries that do not parse (say a
// scoped IPv6 link-local "fe80::1%eth0") are skipped: they are never sources.
std::vector<IpAddress> ParseLocalAddresses(const std::vector<std::string>& texts);

// INVALID_ARGUMENT for malformed or out-of-range fields and non-local
// sources; PERMISSION_DENIED for a target outside policy.allow_targets.
absl::StatusOr<ValidatedAssignment> ValidateAssignment(const v1::Assignment& assignment,
                                                       const ValidationPolicy& policy);

// The run id as a log line may quote it: as it is when it is valid (short,
// printable ASCII), else its first 32 bytes escaped and its length, e.g.
// "r1\nW forged..." (3,145,728 bytes). Validation checks the id first, so
// every refusal can name the run this way, bounded.
std::string RunIdForLog(absl::string_view run_id);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_ASSIGNMENT_VALIDATION_H_
