// Preflight for `coordinator run` and `coordinator preflight`: probes every
// agent of a plan and checks its share against its host with capacity.h
// (which owns the limits, the table and the wording of each fix).
//
// Thread-safety: RunPreflight probes agents concurrently and returns when
// every probe has ended; call it from one thread.
#ifndef FOURTUPLE_COORDINATOR_PREFLIGHT_H_
#define FOURTUPLE_COORDINATOR_PREFLIGHT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

struct PreflightResult {
  std::string table;                     // the capacity table for people
  std::vector<std::string> unreachable;  // one sentence per agent that did not answer
  std::vector<std::string> errors;       // shares the agents cannot hold, with the fix
  std::vector<std::string> warnings;     // settings that may slow or limit the run
  // What gave: the limits the errors are about ("memory", "ports", ...), each
  // once, in the order they were first found.
  std::vector<std::string> exceeded_limits;
  // What each plan agent's probe said, in plan order (none when it did not
  // answer): the run starts from these instead of probing again.
  std::vector<std::optional<v1::HostFacts>> facts;

  bool ok() const { return unreachable.empty() && errors.empty(); }
};

// Probes every agent of the plan, fills in each agent's "local:CIDR" sources
// from its host's addresses (agent_discovery.h), and checks its share against
// its capacity. `plan` must have its dns:/// agents expanded already.
PreflightResult RunPreflight(Plan* plan, const std::shared_ptr<grpc::ChannelCredentials>& credentials);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PREFLIGHT_H_
