#include "common/address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fourtuple {
namespace {

// Addresses as integers, so ranges and prefixes are plain arithmetic. IPv4
// uses the low 32 bits.
absl::uint128 ToInteger(const IpAddress& address) {
  if (address.family == AF_INET) return ntohl(address.v4.s_addr);
  uint64_t high = 0;
  uint64_t low = 0;
  for (int i = 0; i < 8; ++i) high = (high << 8) | address.v6.s6_addr[i];
  for (int i = 8; i < 16; ++i) low = (low << 8) | address.v6.s6_addr[i];
  return absl::MakeUint128(high, low);
}

IpAddress FromInteger(int family, absl::uint128 value) {
  IpAddress address;
  address.family = family;
  if (family == AF_INET) {
    address.v4.s_addr = htonl(static_cast<uint32_t>(absl::Uint128Low64(value)));
    return address;
  }
  uint64_t high = absl::Uint128High64(value);
  uint64_t low = absl::Uint128Low64(value);
  for (int i = 7; i >= 0; --i, high >>= 8) address.v6.s6_addr[i] = static_cast<uint8_t>(high);
  for (int i = 15; i >= 8; --i, low >>= 8) address.v6.s6_addr[i] = static_cast<uint8_t>(low);
  return address;
}

// Mask with the top `prefix_length` of `bits` bits set.
absl::uint128 PrefixMask(int bits, int prefix_length) {
  if (prefix_length == 0) return 0;
  absl::uint128 all = bits == 128 ? absl::Uint128Max() : absl::uint128(0xffffffffu);
  return all & ~((absl::uint128(1) << (bits - prefix_length)) - 1);
}

std::string TooMany(absl::string_view what, absl::uint128 count, size_t max_addresses) {
  return absl::StrCat(what, " has ", Uint128ToString(count), " addresses; at most ", max_addresses,
                      " are allowed");
}

// "ADDR/LEN" into address and length, checking both. Bits set past the
// prefix ("127.0.0.1/8") are refused: they usually mean a typo.
absl::StatusOr<Cidr> ParsePrefix(absl::string_view text) {
  size_t slash = text.find('/');
  absl::string_view address_text = text.substr(0, slash);
  absl::string_view length_text = text.substr(slash + 1);
  absl::StatusOr<IpAddress> address = ParseIpAddress(address_text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", address.status().message()));
  }
  const int bits = AddressBits(address->family);
  int prefix_length = -1;
  bool digits_only = !length_text.empty() && length_text.size() <= 3 &&
                     length_text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_only || !absl::SimpleAtoi(length_text, &prefix_length) || prefix_length > bits) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": prefix length must be 0..", bits));
  }
  absl::uint128 value = ToInteger(*address);
  absl::uint128 network = value & PrefixMask(bits, prefix_length);
  if (network != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": address has bits set past the prefix (did you mean ",
                     FromInteger(address->family, network).ToString(), "/", prefix_length, "?)"));
  }
  Cidr cidr;
  cidr.network = *address;
  cidr.prefix_length = prefix_length;
  return cidr;
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view endpoint_text, absl::string_view port_text,
                                   bool allow_port_zero) {
  const int low = allow_port_zero ? 0 : 1;
  uint32_t port = 0;
  bool digits_only = !port_text.empty() && port_text.size() <= 5 &&
                     port_text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_only || !absl::SimpleAtoi(port_text, &port) || port < static_cast<uint32_t>(low) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", endpoint_text, "\": port \"", port_text, "\" must be a number ", low, "..65535"));
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  const void* source = family == AF_INET ? static_cast<const void*>(&v4) : &v6;
  if (inet_ntop(family, source, buffer, sizeof(buffer)) == nullptr) return "?";
  return buffer;
}

bool IpAddress::operator==(const IpAddress& other) const {
  if (family != other.family) return false;
  if (family == AF_INET) return v4.s_addr == other.v4.s_addr;
  return std::memcmp(&v6, &other.v6, sizeof(v6)) == 0;
}

bool IpAddress::IsLoopback() const {
  if (family == AF_INET) return (ntohl(v4.s_addr) >> 24) == 127;
  return IN6_IS_ADDR_LOOPBACK(&v6);
}

std::string Endpoint::ToString() const {
  if (address.family == AF_INET6) return absl::StrCat("[", address.ToString(), "]:", port);
  return absl::StrCat(address.ToString(), ":", port);
}

socklen_t Endpoint::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (address.family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr = address.v4;
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  in6->sin6_addr = address.v6;
  return sizeof(sockaddr_in6);
}

Endpoint Endpoint::FromSockaddr(const sockaddr* addr) {
  Endpoint endpoint;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    endpoint.address.family = AF_INET;
    endpoint.address.v4 = in->sin_addr;
    endpoint.port = ntohs(in->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    endpoint.address.family = AF_INET6;
    endpoint.address.v6 = in6->sin6_addr;
    endpoint.port = ntohs(in6->sin6_port);
  } else {
    endpoint.address.family = AF_UNSPEC;
  }
  return endpoint;
}

absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text) {
  // inet_pton wants a NUL-terminated string; anything longer than the
  // longest IPv6 text cannot be an address.
  char buffer[INET6_ADDRSTRLEN] = {};
  IpAddress address;
  if (!text.empty() && text.size() < sizeof(buffer)) {
    std::memcpy(buffer, text.data(), text.size());
    if (inet_pton(AF_INET, buffer, &address.v4) == 1) {
      address.family = AF_INET;
      return address;
    }
    if (inet_pton(AF_INET6, buffer, &address.v6) == 1) {
      address.family = AF_INET6;
      return address;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IPv4 or IPv6 address"));
}

absl::StatusOr<std::vector<IpAddress>> ParseAddressSpec(absl::string_view text, size_t max_addresses) {
  if (text.find('/') != absl::string_view::npos) {
    absl::StatusOr<Cidr> cidr = ParsePrefix(text);
    if (!cidr.ok()) return cidr.status();
    const int host_bits = AddressBits(cidr->network.family) - cidr->prefix_length;
    // 2^host_bits, spelled so that /0 of IPv6 (2^128) does not overflow.
    absl::uint128 count = host_bits == 128 ? absl::Uint128Max() : absl::uint128(1) << host_bits;
    if (count > max_addresses) {
      if (host_bits >= 64) {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", text, "\" has 2^", host_bits, " addresses; at most ", max_addresses, " are allowed"));
      }
      return absl::InvalidArgumentError(TooMany(absl::StrCat("\"", text, "\""), count, max_addresses));
    }
    std::vector<IpAddress> addresses;
    addresses.reserve(static_cast<size_t>(count));
    absl::uint128 first = ToInteger(cidr->network);
    for (absl::uint128 i = 0; i < count; ++i) {
      addresses.push_back(FromInteger(cidr->network.family, first + i));
    }
    return addresses;
  }

  size_t dash = text.find('-');
  if (dash != absl::string_view::npos) {
    absl::string_view first_text = text.substr(0, dash);
    absl::string_view last_text = text.substr(dash + 1);
    absl::StatusOr<IpAddress> first = ParseIpAddress(first_text);
    absl::StatusOr<IpAddress> last = ParseIpAddress(last_text);
    for (const auto* part : {&first, &last}) {
      if (!part->ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("range \"", text, "\": ", part->status().message(), "; expected FIRST-LAST"));
      }
    }
    if (first->family != last->family) {
      return absl::InvalidArgumentError(
          absl::StrCat("range \"", text, "\": first and last address are of different families"));
    }
    absl::uint128 low = ToInteger(*first);
    absl::uint128 high = ToInteger(*last);
    if (low > high) {
      return absl::InvalidArgumentError(absl::StrCat("range \"", text, "\": first address is after last"));
    }
    absl::uint128 span = high - low;  // count - 1: the whole IPv6 space does not fit +1
    if (span >= max_addresses) {
      if (span == absl::Uint128Max()) {
        return absl::InvalidArgumentError(absl::StrCat("range \"", text, "\" has 2^128 addresses; at most ",
                                                       max_addresses, " are allowed"));
      }
      return absl::InvalidArgumentError(
          TooMany(absl::StrCat("range \"", text, "\""), span + 1, max_addresses));
    }
    std::vector<IpAddress> addresses;
    addresses.reserve(static_cast<size_t>(span) + 1);
    for (absl::uint128 value = low;; ++value) {
      addresses.push_back(FromInteger(first->family, value));
      if (value == high) break;
    }
    return addresses;
  }

  absl::StatusOr<IpAddress> single = ParseIpAddress(text);
  if (!single.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        single.status().message(), "; expected an address, a range FIRST-LAST or a prefix ADDR/LEN"));
  }
  if (max_addresses < 1) {
    return absl::InvalidArgumentError(TooMany(absl::StrCat("\"", text, "\""), 1, max_addresses));
  }
  return std::vector<IpAddress>{*single};
}

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view text, bool allow_port_zero) {
  if (text.empty()) {
    return absl::InvalidArgumentError("endpoint is empty; expected ADDR:PORT or [IPV6]:PORT");
  }
  absl::string_view address_text;
  absl::string_view port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has no closing \"]\"; expected [IPV6]:PORT"));
    }
    address_text = text.substr(1, close - 1);
    absl::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is missing \":PORT\""));
    }
    if (rest.front() != ':') {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": expected \":PORT\" after \"]\""));
    }
    port_text = rest.substr(1);
    absl::StatusOr<IpAddress> address = ParseIpAddress(address_text);
    if (!address.ok() || address->family != AF_INET6) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": \"", address_text, "\" in brackets is not an IPv6 address"));
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      if (ParseIpAddress(text).ok()) {
        return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is missing \":PORT\""));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" is not an endpoint; expected ADDR:PORT or [IPV6]:PORT"));
    }
    if (text.find(':') != colon) {
      // Bare IPv6: "::1:80" could be an address or an address and a port.
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": write an IPv6 endpoint as [ADDR]:PORT"));
    }
    address_text = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  absl::StatusOr<IpAddress> address = ParseIpAddress(address_text);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": ", address.status().message()));
  }
  absl::StatusOr<uint16_t> port = ParsePort(text, port_text, allow_port_zero);
  if (!port.ok()) return port.status();
  Endpoint endpoint;
  endpoint.address = *address;
  endpoint.port = *port;
  return endpoint;
}

absl::StatusOr<std::vector<Endpoint>> ParseEndpointList(absl::string_view text, bool allow_port_zero) {
  std::vector<Endpoint> endpoints;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has an empty entry; expected ADDR:PORT[,ADDR:PORT...]"));
    }
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(part, allow_port_zero);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(*endpoint);
  }
  return endpoints;
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.family != network.family) return false;
  absl::uint128 mask = PrefixMask(AddressBits(network.family), prefix_length);
  return (ToInteger(address) & mask) == (ToInteger(network) & mask);
}

bool Cidr::Covers(const Cidr& inner) const {
  return inner.network.family == network.family && inner.prefix_length >= prefix_length &&
         Contains(inner.network);
}

absl::uint128 Cidr::Size() const {
  const int host_bits = AddressBits(network.family) - prefix_length;
  return host_bits >= 128 ? absl::Uint128Max() : absl::uint128(1) << host_bits;
}

IpAddress Cidr::At(absl::uint128 offset) const {
  return FromInteger(network.family, ToInteger(network) + offset);
}

bool Cidr::IsSingle() const { return prefix_length == AddressBits(network.family); }

std::string Cidr::ToString() const { return absl::StrCat(network.ToString(), "/", prefix_length); }

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  if (text.find('/') == absl::string_view::npos) {
    // A lone address is the prefix holding just that address.
    absl::StatusOr<IpAddress> address = ParseIpAddress(text);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(address.status().message(), "; expected ADDR/LEN, e.g. 127.0.0.0/8"));
    }
    Cidr cidr;
    cidr.network = *address;
    cidr.prefix_length = AddressBits(address->family);
    return cidr;
  }
  return ParsePrefix(text);
}

int AddressBits(int family) { return family == AF_INET ? 32 : 128; }

std::string Uint128ToString(absl::uint128 value) {
  if (value == 0) return "0";
  std::string digits;
  while (value != 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + absl::Uint128Low64(value % 10)));
    value /= 10;
  }
  return digits;
}

}  // namespace fourtuple
