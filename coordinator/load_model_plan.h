// The plan's load models (docs/load-models.md): "close" (how agents close
// their connections), "churn" (close and reopen connections during the hold)
// and "reconnect" (reopen what the target drops, with backoff), parsed and
// checked against the rest of the plan.
//
// Thread-safety: plain values and pure functions.
#ifndef FOURTUPLE_COORDINATOR_LOAD_MODEL_PLAN_H_
#define FOURTUPLE_COORDINATOR_LOAD_MODEL_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace fourtuple::v1 {
class Assignment;  // proto/fourtuple.pb.h, needed only by load_model_assignment.cc
}  // namespace fourtuple::v1

namespace fourtuple::coordinator {

// How long the agents' host keeps a connection it closed with FIN in
// TIME_WAIT (Linux: TCP_TIMEWAIT_LEN, fixed at 60 s).
inline constexpr absl::Duration kTimeWait = absl::Seconds(60);

enum class CloseMode {
  kRst,  // SO_LINGER 0: an RST, no TIME_WAIT; the default
  kFin,  // an orderly close: the server's close path runs, the agents keep TIME_WAIT
};

struct ChurnPlan {
  // Connections closed and reopened per second, whole run (> 0, at most
  // connect_rate when that is set: reopens are paced by it).
  double rate = 0;
  // How long churn runs, from the end of the ramp (> 0).
  absl::Duration duration;
};

struct ReconnectPlan {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);  // >= initial_backoff
  bool jitter = true;                             // full jitter: uniform in [0, backoff]
  uint32_t max_attempts = 0;                      // 0 = unlimited
};

struct LoadModelPlan {
  CloseMode close = CloseMode::kRst;
  std::optional<ChurnPlan> churn;          // absent: no churn
  std::optional<ReconnectPlan> reconnect;  // absent: a dropped connection stays closed (and fails the run)
  bool any() const { return churn.has_value() || reconnect.has_value(); }
};

// Reads "close", "churn" and "reconnect" of the plan object `root` (each
// optional); `connect_rate` is the plan's (0 = unlimited). Errors name the
// field ("plan.churn.rate").
absl::Status ParseLoadModels(const nlohmann::json& root, double connect_rate, LoadModelPlan* out);

// Adds the same fields to a plan's JSON, every default filled in.
void LoadModelsToJson(const LoadModelPlan& plan, nlohmann::ordered_json* out);

// The assignment fields for an agent that holds `share` of the plan's
// connections (its churn rate is its share of the run's).
void SetLoadModels(const LoadModelPlan& plan, double share, v1::Assignment* assignment);

// Preflight's word on close "fin" for one agent (nullopt with "rst"): its
// host keeps every port it closes in TIME_WAIT for 60 s, so churn holds
// churn share x 60 s ports on top of the agent's `connections`, and the
// next run within a minute finds `connections` fewer. Warns when that sum
// passes `port_capacity` (source addresses x endpoints x ephemeral ports).
std::optional<std::string> TimeWaitWarning(const LoadModelPlan& plan, const std::string& agent,
                                           uint64_t connections, double share, uint64_t port_capacity);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_LOAD_MODEL_PLAN_H_
