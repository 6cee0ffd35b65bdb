// The listening sockets. The parent opens one per endpoint before it forks
// the workers, so port 0 resolves once and every worker shares (and accepts
// from) the same socket: a connection waits in one queue that any worker
// with room can drain, rather than in a SO_REUSEPORT queue tied to a worker
// that may be full.
#ifndef FOURTUPLE_TARGET_SERVER_LISTENER_H_
#define FOURTUPLE_TARGET_SERVER_LISTENER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/address.h"

namespace fourtuple::target_server {

struct ListenerOptions {
  int backlog = 65535;  // capped by the kernel at net.core.somaxconn
  int rcvbuf = 0;       // SO_RCVBUF on the listener, inherited when accepted; 0 = default
  int sndbuf = 0;       // SO_SNDBUF likewise
};

// An open listening socket (nonblocking, CLOEXEC, SO_REUSEADDR). The fd is
// owned by whoever holds the Listener; close it with CloseListeners.
struct Listener {
  int fd = -1;
  Endpoint requested;  // as given on the command line
  Endpoint bound;      // with port 0 resolved
};

// Opens every endpoint, in order. On error closes those already opened and
// returns a status naming the endpoint and errno ("127.0.0.1:80: bind:
// EADDRINUSE (Address already in use)").
absl::StatusOr<std::vector<Listener>> OpenListeners(const std::vector<Endpoint>& endpoints,
                                                    const ListenerOptions& options);

void CloseListeners(std::vector<Listener>& listeners);

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_LISTENER_H_
