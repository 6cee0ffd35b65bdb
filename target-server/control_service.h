// fourtuple.v1.TargetControl: the server-side counts, for the coordinator's
// report and for tests.
//
// Thread-safety: gRPC calls GetStats from its own threads; the service only
// reads the CounterSet (atomics) and constant members.
#ifndef FOURTUPLE_TARGET_SERVER_CONTROL_SERVICE_H_
#define FOURTUPLE_TARGET_SERVER_CONTROL_SERVICE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/grpc_credentials.h"
#include "proto/fourtuple.grpc.pb.h"
#include "target-server/counters.h"

namespace fourtuple::target_server {

class TargetControlService final : public v1::TargetControl::Service {
 public:
  // `counters` must outlive the service (and the gRPC server running it).
  // `auth` says what every call must present (default: nothing).
  TargetControlService(const CounterSet* counters, std::vector<std::string> listen, absl::Time start,
                       ServerAuth auth = {})
      : counters_(counters), listen_(std::move(listen)), start_(start), auth_(std::move(auth)) {}

  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::TargetStats* response) override;

 private:
  // Constant after construction.
  const CounterSet* const counters_;
  const std::vector<std::string> listen_;
  const absl::Time start_;
  const ServerAuth auth_;
};

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_CONTROL_SERVICE_H_
