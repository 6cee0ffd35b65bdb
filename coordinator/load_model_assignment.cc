// SetLoadModels (load_model_plan.h): apart from the parsing, so the plan
// parser builds without the protobuf messages (the fuzz targets).
#include "coordinator/load_model_plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

void SetLoadModels(const LoadModelPlan& plan, double share, v1::Assignment* assignment) {
  assignment->set_close_mode(plan.close == CloseMode::kFin ? v1::CLOSE_MODE_FIN : v1::CLOSE_MODE_RST);
  if (plan.churn.has_value() && plan.churn->rate * share > 0) {
    assignment->mutable_churn()->set_rate(plan.churn->rate * share);
    assignment->mutable_churn()->set_duration_ms(absl::ToInt64Milliseconds(plan.churn->duration));
  }
  if (plan.reconnect.has_value()) {
    v1::ReconnectSettings& r = *assignment->mutable_reconnect();
    r.set_initial_backoff_ms(absl::ToInt64Milliseconds(plan.reconnect->initial_backoff));
    r.set_max_backoff_ms(absl::ToInt64Milliseconds(plan.reconnect->max_backoff));
    r.set_jitter(plan.reconnect->jitter);
    r.set_max_attempts(plan.reconnect->max_attempts);
  }
}

}  // namespace fourtuple::coordinator
