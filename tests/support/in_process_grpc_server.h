// A gRPC server in the test's own process on a free loopback port, for fake
// agents and fake target controls in unit tests. Header-only: unit tests link
// their folder's library (which brings gRPC), not tests/support.
#ifndef FOURTUPLE_TESTS_SUPPORT_IN_PROCESS_GRPC_SERVER_H_
#define FOURTUPLE_TESTS_SUPPORT_IN_PROCESS_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace fourtuple::testing {

struct InProcessGrpcServer {
  std::unique_ptr<grpc::Server> server;
  std::string endpoint;  // "127.0.0.1:PORT"
};

// Serves `service` (which must outlive the server) without credentials.
inline InProcessGrpcServer StartInProcessGrpcServer(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  InProcessGrpcServer out;
  out.server = builder.BuildAndStart();
  out.endpoint = absl::StrCat("127.0.0.1:", port);
  return out;
}

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_IN_PROCESS_GRPC_SERVER_H_
