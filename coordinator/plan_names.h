// The one check of a plan that needs the network: every host name in it
// (agent endpoints, target.control) must resolve. ParsePlan stays pure and
// accepts any well-formed name; this runs once before the run or preflight.
//
// A name the resolver says does not exist is bad input (exit 2, with the
// field's path); a resolver that cannot answer right now is not decided here
// — the agent probe then reports the agent unreachable (exit 3).
//
// Thread-safety: reentrant (getaddrinfo).
#ifndef FOURTUPLE_COORDINATOR_PLAN_NAMES_H_
#define FOURTUPLE_COORDINATOR_PLAN_NAMES_H_

#include "absl/status/status.h"
#include "coordinator/plan.h"

namespace fourtuple::coordinator {

// InvalidArgument "plan.agents[1].endpoint: host "x" does not resolve (...)"
// for the first name that does not exist.
absl::Status CheckPlanNamesResolve(const Plan& plan);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PLAN_NAMES_H_
