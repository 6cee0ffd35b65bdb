#include "agent/return_path_probe.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/failure_reason.h"

namespace fourtuple::agent {
namespace {

// Connects from `source` to `target`; 0 when the far side answered (SYN-ACK
// or RST), else the errno or ETIMEDOUT.
int TryConnect(const IpAddress& source, const Endpoint& target, absl::Duration timeout) {
  int fd = socket(target.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int one = 1;
  if (source.family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
  sockaddr_storage local;
  sockaddr_storage remote;
  const socklen_t local_length = Endpoint{source, 0}.ToSockaddr(&local);
  const socklen_t remote_length = target.ToSockaddr(&remote);
  int error = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), local_length) != 0) {
    error = errno;
  } else if (connect(fd, reinterpret_cast<sockaddr*>(&remote), remote_length) != 0 && errno != EINPROGRESS) {
    error = errno;
  } else {
    pollfd waiting{fd, POLLOUT, 0};
    const int ready = poll(&waiting, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (ready == 0) {
      error = ETIMEDOUT;
    } else {
      socklen_t length = sizeof error;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    }
  }
  linger abort{1, 0};  // an RST: no TIME_WAIT holding the address and port
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  close(fd);
  return error == ECONNREFUSED ? 0 : error;
}

}  // namespace

absl::Status ProbeReturnPaths(const ValidatedAssignment& run, absl::Duration timeout) {
  const Endpoint& target = run.targets.front();
  if (target.address.IsLoopback()) return absl::OkStatus();
  const std::vector<Cidr>& entries = run.sources.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Cidr& prefix = entries[i];
    if (prefix.IsSingle()) continue;
    // An address from the middle of the prefix: the network address itself
    // (or the broadcast of an IPv4 one) would tell less.
    const IpAddress sample = prefix.At(prefix.Size() / 2 + 1);
    const int error = TryConnect(sample, target, timeout);
    if (error == 0) continue;
    const std::string what = error == ETIMEDOUT ? absl::StrCat("got no answer in ", DurationToString(timeout))
                                                : absl::StrCat("failed with ", ReasonName(ReasonCode(error)));
    return absl::FailedPreconditionError(absl::StrCat(
        "assignment.source_addresses[", i, "]: a probe connection from ", sample.ToString(), " (inside ",
        prefix.ToString(), ") to ", target.ToString(), " ", what, ": the target has no route back to ",
        prefix.ToString(), " (route it to this host on the target's side, e.g. ip",
        prefix.network.family == AF_INET6 ? " -6" : "", " route add ", prefix.ToString(),
        " via AGENT_HOST)"));
  }
  return absl::OkStatus();
}

}  // namespace fourtuple::agent
