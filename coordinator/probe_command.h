// `coordinator probe`: asks agents for their host facts and prints them as a
// plain table (one column per agent), and the probing that preflight shares.
//
// Thread-safety: ProbeAgents runs its probes on gRPC's callback threads and
// returns when all have ended; the formatting functions are pure.
#ifndef FOURTUPLE_COORDINATOR_PROBE_COMMAND_H_
#define FOURTUPLE_COORDINATOR_PROBE_COMMAND_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

struct ProbeResult {
  std::string endpoint;
  absl::StatusOr<v1::HostFacts> facts = absl::UnknownError("not probed");
};

// Probes at most this many agents at once (fan_out.h).
inline constexpr size_t kMaxProbesInFlight = 128;

// Probes every endpoint, kMaxProbesInFlight at a time, each bounded by
// `timeout` from its own start: a thousand unreachable agents are all named
// within a few timeouts, in one pass.
std::vector<ProbeResult> ProbeAgents(const std::vector<std::string>& endpoints,
                                     const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                                     absl::Duration timeout);

// One sentence for an agent whose probe failed: "agent A refused the token
// (UNAUTHENTICATED): ..." or "agent A is unreachable (UNAVAILABLE): ...",
// with the flag to check when it looks like an authentication problem. It
// quotes the server's reply as is: escape it for a terminal.
std::string DescribeProbeFailure(const std::string& endpoint, const absl::Status& status);

// Rows of facts, a column per agent; an unreachable agent's column says why.
// A text table (text_table.h): what the agents reported is escaped.
std::string FormatFactsTable(const std::vector<ProbeResult>& results);

// `coordinator probe --agents=A,B`: prints the table to stdout; 0 when every
// agent answered, 3 otherwise.
int ExecuteProbeCommand(const std::vector<std::string>& endpoints,
                        const std::shared_ptr<grpc::ChannelCredentials>& credentials);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PROBE_COMMAND_H_
