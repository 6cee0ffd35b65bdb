// absl::Status and grpc::Status share their codes; convert at the RPC edge.
#ifndef FOURTUPLE_COMMON_GRPC_STATUS_H_
#define FOURTUPLE_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace fourtuple {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_GRPC_STATUS_H_
