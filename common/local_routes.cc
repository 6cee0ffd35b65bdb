#include "common/local_routes.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace fourtuple {
namespace {

// Appends the local routes of one RTM_NEWROUTE message.
void ReadRoute(const nlmsghdr* header, std::vector<std::string>* out) {
  const auto* route = static_cast<const rtmsg*>(NLMSG_DATA(header));
  if (route->rtm_type != RTN_LOCAL) return;
  if (route->rtm_family != AF_INET && route->rtm_family != AF_INET6) return;
  int length = static_cast<int>(RTM_PAYLOAD(header));
  for (const rtattr* attr = RTM_RTA(route); RTA_OK(attr, length); attr = RTA_NEXT(attr, length)) {
    if (attr->rta_type != RTA_DST) continue;
    IpAddress address;
    address.family = route->rtm_family;
    const size_t size = route->rtm_family == AF_INET ? sizeof(in_addr) : sizeof(in6_addr);
    if (RTA_PAYLOAD(attr) != size) return;
    std::memcpy(route->rtm_family == AF_INET ? static_cast<void*>(&address.v4) : &address.v6, RTA_DATA(attr),
                size);
    std::string text = absl::StrCat(address.ToString(), "/", static_cast<int>(route->rtm_dst_len));
    if (std::find(out->begin(), out->end(), text) == out->end()) out->push_back(std::move(text));
    return;
  }
}

absl::Status DumpRoutes(int fd, int family, std::vector<std::string>* out) {
  struct {
    nlmsghdr header;
    rtmsg route;
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  request.header.nlmsg_type = RTM_GETROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = static_cast<uint32_t>(family);
  request.route.rtm_family = static_cast<unsigned char>(family);
  if (send(fd, &request, request.header.nlmsg_len, 0) < 0) return PosixError("netlink RTM_GETROUTE", errno);
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError("netlink route dump", errno);
    int left = static_cast<int>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
        // A kernel without IPv6 answers EAFNOSUPPORT: no IPv6 routes.
        if (error->error == -EAFNOSUPPORT) return absl::OkStatus();
        return PosixError("netlink route dump", -error->error);
      }
      if (header->nlmsg_type == RTM_NEWROUTE) ReadRoute(header, out);
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ReadLocalRoutes() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return PosixError("netlink socket", errno);
  std::vector<std::string> routes;
  absl::Status status = DumpRoutes(fd, AF_INET, &routes);
  if (status.ok()) status = DumpRoutes(fd, AF_INET6, &routes);
  close(fd);
  if (!status.ok()) return status;
  return routes;
}

std::vector<Cidr> ParseLocalRoutes(const std::vector<std::string>& texts) {
  std::vector<Cidr> out;
  for (const std::string& text : texts) {
    absl::StatusOr<Cidr> route = ParseCidr(text);
    if (route.ok()) out.push_back(*route);
  }
  return out;
}

bool SourceIsLocal(const Cidr& entry, const std::vector<IpAddress>& addresses,
                   const std::vector<Cidr>& local_routes) {
  for (const Cidr& route : local_routes) {
    if (route.Covers(entry)) return true;
  }
  bool v4_loopback = false;
  for (const IpAddress& address : addresses) {
    if (entry.IsSingle() && address == entry.network) return true;
    v4_loopback = v4_loopback || (address.family == AF_INET && ntohl(address.v4.s_addr) == INADDR_LOOPBACK);
  }
  // Linux routes all of 127.0.0.0/8 to lo when it has 127.0.0.1 (read when
  // the routes themselves are not known).
  if (v4_loopback && entry.network.family == AF_INET && entry.prefix_length >= 8 &&
      entry.network.IsLoopback()) {
    return true;
  }
  return false;
}

std::string HowToMakeLocal(const Cidr& entry) {
  const std::string prefix = entry.ToString();
  if (entry.IsSingle()) {
    return absl::StrCat("add it (deploy/host/sources.sh add IFACE ", prefix, ")");
  }
  return absl::StrCat("make the prefix local (deploy/host/sources.sh anyip add lo ", prefix, ", or ip",
                      entry.network.family == AF_INET6 ? " -6" : "", " route add local ", prefix, " dev lo)");
}

}  // namespace fourtuple
