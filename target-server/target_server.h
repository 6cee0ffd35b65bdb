// target-server: an echo server that holds as many TCP connections as the
// host allows on one or more ports, with (almost) no user memory per
// connection.
//
// The parent opens every listener, forks the workers (echo_worker.h) before
// any gRPC object or civetweb thread exists, then serves TargetControl and
// /metrics, prints stats lines and watches its workers. SIGTERM or SIGINT: the workers close their
// connections and exit, the parent prints the final counters as one JSON
// line and returns OK.
#ifndef FOURTUPLE_TARGET_SERVER_TARGET_SERVER_H_
#define FOURTUPLE_TARGET_SERVER_TARGET_SERVER_H_

#include "absl/status/status.h"
#include "target-server/options.h"

namespace fourtuple::target_server {

// Runs until SIGTERM/SIGINT. Must be called from a process's only thread
// (it forks). Errors name what failed ("--listen 127.0.0.1:9000: bind:
// EADDRINUSE ..."); OK after a clean shutdown.
absl::Status RunTargetServer(const TargetServerOptions& options);

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_TARGET_SERVER_H_
