// Before a run from source prefixes: one connection per prefix from an
// address inside it to the first target, so that a target with no route
// back to the prefix is said once, up front, instead of as a connect timeout
// on every connection. Local routes make the prefix bindable here; whether
// replies find their way back is the network's business, and only a try
// tells.
//
// Only prefixes to a target that is not a loopback address are probed: on
// one host the local route itself carries the replies. A refused probe
// (RST) passes: the path works, and the run counts refusals itself.
//
// Thread-safety: reentrant; blocks up to `timeout` per probed prefix.
#ifndef FOURTUPLE_AGENT_RETURN_PATH_PROBE_H_
#define FOURTUPLE_AGENT_RETURN_PATH_PROBE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/assignment_validation.h"

namespace fourtuple::agent {

// FAILED_PRECONDITION naming the prefix, the sampled address, the target
// and the fix when a probe gets no answer (or the network is unreachable).
absl::Status ProbeReturnPaths(const ValidatedAssignment& run, absl::Duration timeout);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_RETURN_PATH_PROBE_H_
