// What the gRPC fronts (the agent's service, target-server's --control) do
// against connections that never authenticate: idle connections are shed
// rather than left to starve the process of descriptors, and a burst that
// exhausts the descriptors cannot leave the listener deaf once it is gone.
//
// Why the second part is needed: gRPC 1.51 (tcp_server_posix.cc) stops
// accepting on a listener for good the first time accept4 fails with
// anything but EAGAIN, EMFILE included; the connections queue up unanswered
// until the process restarts. This file defines accept4 for the program
// (the executable's definition is the one libgrpc calls), and on the
// listeners handed to ShedAcceptsWhenOutOfDescriptors it turns "out of
// descriptors" into shedding: a descriptor kept in reserve is freed, the
// waiting connection is accepted and closed at once, the reserve taken back,
// and gRPC is told EAGAIN, which re-arms the listener. Every other accept4
// (target-server's echo workers, ...) goes straight to the kernel.
//
// Thread-safety: all functions are thread-safe.
#ifndef FOURTUPLE_COMMON_GRPC_FRONT_H_
#define FOURTUPLE_COMMON_GRPC_FRONT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace fourtuple {

struct FrontLimits {
  // A connection must finish its TLS handshake and send the HTTP/2 preface
  // and SETTINGS within this, or it is closed (gRPC's default: 120 s).
  absl::Duration handshake_timeout = absl::Seconds(10);
  // A connection with no call in progress for this long is closed (GOAWAY);
  // a client reconnects by itself on its next call.
  absl::Duration max_connection_idle = absl::Minutes(2);
  // Calls one connection may have in progress at once.
  int max_concurrent_streams = 32;
};

// Puts `limits` on the server `builder` will build.
void ApplyFrontLimits(grpc::ServerBuilder& builder, const FrontLimits& limits = {});

// Finds this process's listening TCP sockets bound to `port` (call it once
// the server is built and started, with the port it bound) and makes
// accept4 on them shed connections instead of failing when the process is
// out of descriptors (see the top of this file). Keeps one descriptor in
// reserve. An error when no such socket is found.
absl::Status ShedAcceptsWhenOutOfDescriptors(int port);

// Connections shed so far because the process was out of descriptors.
uint64_t ConnectionsShed();

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_GRPC_FRONT_H_
