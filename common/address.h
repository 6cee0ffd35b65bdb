// IPv4/IPv6 addresses, address lists (single, a-b range, CIDR) and endpoints.
// Parsing errors say which text was wrong and what was expected.
#ifndef FOURTUPLE_COMMON_ADDRESS_H_
#define FOURTUPLE_COMMON_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// An IP address; family AF_INET or AF_INET6. Trivially copyable.
struct IpAddress {
  int family = AF_INET;
  in_addr v4{};
  in6_addr v6{};

  std::string ToString() const;
  bool operator==(const IpAddress& other) const;
  bool IsLoopback() const;
};

// An address and a port. Trivially copyable.
struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  // "1.2.3.4:80", "[::1]:80".
  std::string ToString() const;
  // Fills a sockaddr_in/sockaddr_in6; returns its length.
  socklen_t ToSockaddr(sockaddr_storage* out) const;
  static Endpoint FromSockaddr(const sockaddr* addr);
};

// "127.0.0.1", "::1".
absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text);

// One entry of a source_addresses list: "127.0.1.1", "127.0.1.1-127.0.1.8"
// (inclusive, same family, first <= last) or "127.0.2.0/29" (every address of
// the prefix, network and broadcast included: on loopback and for /32 aliases
// all are usable; bits set past the prefix are refused as a likely typo).
// Refuses more than max_addresses, saying how many the text would give.
absl::StatusOr<std::vector<IpAddress>> ParseAddressSpec(absl::string_view text,
                                                        size_t max_addresses = 1 << 20);

// "ADDR:PORT" or "[V6]:PORT"; port 0..65535 (0 only when allow_port_zero).
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text, bool allow_port_zero = false);

// "ADDR:PORT,ADDR:PORT".
absl::StatusOr<std::vector<Endpoint>> ParseEndpointList(absl::string_view text, bool allow_port_zero = false);

// An IPv4/IPv6 prefix ("127.0.0.0/8"); used by --allow-targets. ParseCidr
// reads a lone address as its /32 or /128.
//
// A plan's source prefix is a Cidr too: its addresses are reached by offset
// (At), never listed, so a /64 costs what a single address does.
struct Cidr {
  IpAddress network;
  int prefix_length = 0;
  bool Contains(const IpAddress& address) const;
  // Every address of `inner` is in this prefix.
  bool Covers(const Cidr& inner) const;
  // 2^(address bits - prefix_length), saturated at 2^128 - 1.
  absl::uint128 Size() const;
  // The address `offset` past the network address (offset < Size()).
  IpAddress At(absl::uint128 offset) const;
  // A single address (/32, /128).
  bool IsSingle() const;
  std::string ToString() const;
};
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);

// 32 for AF_INET, 128 for AF_INET6.
int AddressBits(int family);

// Decimal text of a 128-bit count (Debian's Abseil has no StrCat for it).
std::string Uint128ToString(absl::uint128 value);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_ADDRESS_H_
