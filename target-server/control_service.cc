#include "target-server/control_service.h"

namespace fourtuple::target_server {

grpc::Status TargetControlService::GetStats(grpc::ServerContext* context,
                                            const v1::GetStatsRequest* /*request*/,
                                            v1::TargetStats* response) {
  if (grpc::Status allowed = auth_.Check(*context); !allowed.ok()) return allowed;
  FillTargetStats(*counters_, listen_, absl::Now() - start_, response);
  return grpc::Status::OK;
}

}  // namespace fourtuple::target_server
