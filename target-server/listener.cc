#include "target-server/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace fourtuple::target_server {
namespace {

absl::StatusOr<Listener> OpenListener(const Endpoint& endpoint, const ListenerOptions& options) {
  const std::string name = endpoint.ToString();
  sockaddr_storage address{};
  socklen_t length = endpoint.ToSockaddr(&address);
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return PosixError(absl::StrCat(name, ": socket"), errno);

  auto fail = [&](absl::string_view step) {
    int error = errno;
    close(fd);
    return PosixError(absl::StrCat(name, ": ", step), error);
  };
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return fail("setsockopt(SO_REUSEADDR)");
  }
  // Set before listen(): accepted sockets inherit the buffer sizes, and a
  // size fixed before the handshake also fixes the advertised window scale.
  if (options.rcvbuf > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.rcvbuf, sizeof(options.rcvbuf)) != 0) {
    return fail("setsockopt(SO_RCVBUF)");
  }
  if (options.sndbuf > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options.sndbuf, sizeof(options.sndbuf)) != 0) {
    return fail("setsockopt(SO_SNDBUF)");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) return fail("bind");
  if (listen(fd, options.backlog) != 0) return fail("listen");

  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return fail("getsockname");
  }
  Listener listener;
  listener.fd = fd;
  listener.requested = endpoint;
  listener.bound = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  return listener;
}

}  // namespace

absl::StatusOr<std::vector<Listener>> OpenListeners(const std::vector<Endpoint>& endpoints,
                                                    const ListenerOptions& options) {
  std::vector<Listener> listeners;
  for (const Endpoint& endpoint : endpoints) {
    absl::StatusOr<Listener> listener = OpenListener(endpoint, options);
    if (!listener.ok()) {
      CloseListeners(listeners);
      return listener.status();
    }
    listeners.push_back(*listener);
  }
  return listeners;
}

void CloseListeners(std::vector<Listener>& listeners) {
  for (Listener& listener : listeners) {
    if (listener.fd >= 0) close(listener.fd);
    listener.fd = -1;
  }
}

}  // namespace fourtuple::target_server
