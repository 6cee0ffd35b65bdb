// The prefixes this host treats as its own: routes of type local in any
// routing table, read over rtnetlink. Besides one host route per interface
// address they hold whole prefixes ("ip route add local 198.18.0.0/15 dev
// lo"), inside which every address binds without being on an interface.
// Thread-safety: reentrant.
#ifndef FOURTUPLE_COMMON_LOCAL_ROUTES_H_
#define FOURTUPLE_COMMON_LOCAL_ROUTES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/address.h"

namespace fourtuple {

// Every local route of this network namespace, IPv4 and IPv6, as "ADDR/LEN".
absl::StatusOr<std::vector<std::string>> ReadLocalRoutes();

// Whether a source entry (a single address or a prefix) binds on a host with
// these interface addresses and local routes: a single address that is an
// interface address, any 127.x.y.z when the host has IPv4 loopback, or an
// entry inside one local route.
bool SourceIsLocal(const Cidr& entry, const std::vector<IpAddress>& addresses,
                   const std::vector<Cidr>& local_routes);

// Parses ReadLocalRoutes (or HostFacts.local_routes) text; skips what does
// not parse.
std::vector<Cidr> ParseLocalRoutes(const std::vector<std::string>& texts);

// What makes `entry` local, for messages: the script line and the ip(8) line.
std::string HowToMakeLocal(const Cidr& entry);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_LOCAL_ROUTES_H_
