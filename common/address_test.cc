#include "common/address.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Strings(const std::vector<IpAddress>& addresses) {
  std::vector<std::string> out;
  for (const IpAddress& address : addresses) out.push_back(address.ToString());
  return out;
}

std::string ErrorOf(const absl::Status& status) {
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

TEST(ParseIpAddressTest, IPv4AndIPv6) {
  absl::StatusOr<IpAddress> v4 = ParseIpAddress("127.0.1.2");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(ntohl(v4->v4.s_addr), 0x7f000102u);
  EXPECT_EQ(v4->ToString(), "127.0.1.2");
  EXPECT_TRUE(v4->IsLoopback());

  absl::StatusOr<IpAddress> v6 = ParseIpAddress("::1");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->ToString(), "::1");
  EXPECT_TRUE(v6->IsLoopback());

  absl::StatusOr<IpAddress> long_v6 = ParseIpAddress("2001:DB8:0:0:0:0:0:1");
  ASSERT_TRUE(long_v6.ok()) << long_v6.status();
  EXPECT_EQ(long_v6->ToString(), "2001:db8::1");  // canonical form
  EXPECT_FALSE(long_v6->IsLoopback());
  EXPECT_FALSE(ParseIpAddress("198.18.0.1")->IsLoopback());
}

TEST(ParseIpAddressTest, RefusesWithTheText) {
  EXPECT_EQ(ErrorOf(ParseIpAddress("127.0.1.300").status()),
            "\"127.0.1.300\" is not an IPv4 or IPv6 address");
  for (const char* bad : {"", "127.0.1", "127.1", "1.2.3.4.5", "localhost", " 127.0.0.1", "::1::2", "[::1]",
                          "127.0.0.1/8", "0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
    absl::StatusOr<IpAddress> parsed = ParseIpAddress(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr(absl::StrCat("\"", bad, "\""))) << bad;
  }
}

TEST(IpAddressTest, EqualityLooksAtFamilyAndBytes) {
  EXPECT_EQ(*ParseIpAddress("127.0.0.1"), *ParseIpAddress("127.0.0.1"));
  EXPECT_FALSE(*ParseIpAddress("127.0.0.1") == *ParseIpAddress("127.0.0.2"));
  EXPECT_FALSE(*ParseIpAddress("::") == *ParseIpAddress("0.0.0.0"));
  EXPECT_EQ(*ParseIpAddress("fe80::1"), *ParseIpAddress("fe80:0::0:1"));
}

TEST(ParseAddressSpecTest, Single) {
  absl::StatusOr<std::vector<IpAddress>> one = ParseAddressSpec("127.0.1.1");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(Strings(*one), ElementsAre("127.0.1.1"));
  EXPECT_THAT(Strings(*ParseAddressSpec("::1")), ElementsAre("::1"));
}

TEST(ParseAddressSpecTest, RangeIsInclusive) {
  absl::StatusOr<std::vector<IpAddress>> range = ParseAddressSpec("127.0.1.1-127.0.1.8");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(Strings(*range), ElementsAre("127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4", "127.0.1.5",
                                           "127.0.1.6", "127.0.1.7", "127.0.1.8"));
  EXPECT_THAT(Strings(*ParseAddressSpec("127.0.0.5-127.0.0.5")), ElementsAre("127.0.0.5"));
}

TEST(ParseAddressSpecTest, RangeAcrossOctets) {
  absl::StatusOr<std::vector<IpAddress>> range = ParseAddressSpec("127.0.1.250-127.0.2.5");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(Strings(*range), ElementsAre("127.0.1.250", "127.0.1.251", "127.0.1.252", "127.0.1.253",
                                           "127.0.1.254", "127.0.1.255", "127.0.2.0", "127.0.2.1",
                                           "127.0.2.2", "127.0.2.3", "127.0.2.4", "127.0.2.5"));
  EXPECT_THAT(Strings(*ParseAddressSpec("126.255.255.255-127.0.0.1")),
              ElementsAre("126.255.255.255", "127.0.0.0", "127.0.0.1"));
  EXPECT_THAT(Strings(*ParseAddressSpec("255.255.255.254-255.255.255.255")),
              ElementsAre("255.255.255.254", "255.255.255.255"));
}

TEST(ParseAddressSpecTest, IPv6RangeCarriesAcrossGroupsAndHalves) {
  EXPECT_THAT(Strings(*ParseAddressSpec("fd00::fffe-fd00::1:1")),
              ElementsAre("fd00::fffe", "fd00::ffff", "fd00::1:0", "fd00::1:1"));
  // Carry from the low 64 bits into the high 64 bits.
  EXPECT_THAT(Strings(*ParseAddressSpec("fd00:0:0:1:ffff:ffff:ffff:ffff-fd00:0:0:2::")),
              ElementsAre("fd00::1:ffff:ffff:ffff:ffff", "fd00:0:0:2::"));
}

TEST(ParseAddressSpecTest, RangeErrors) {
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.1.9-127.0.1.1").status()),
            "range \"127.0.1.9-127.0.1.1\": first address is after last");
  EXPECT_THAT(ErrorOf(ParseAddressSpec("127.0.1.1-::1").status()), HasSubstr("different families"));
  EXPECT_THAT(ErrorOf(ParseAddressSpec("127.0.1.1-127.0.1.300").status()),
              HasSubstr("\"127.0.1.300\" is not an IPv4 or IPv6 address"));
  EXPECT_THAT(ErrorOf(ParseAddressSpec("127.0.1.1-").status()), HasSubstr("range \"127.0.1.1-\""));
  EXPECT_THAT(ErrorOf(ParseAddressSpec("127.0.1.1-127.0.1.5-127.0.1.8").status()),
              HasSubstr("range \"127.0.1.1-127.0.1.5-127.0.1.8\""));
}

TEST(ParseAddressSpecTest, CidrIncludesEveryAddress) {
  absl::StatusOr<std::vector<IpAddress>> block = ParseAddressSpec("127.0.2.0/29");
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_THAT(Strings(*block), ElementsAre("127.0.2.0", "127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.4",
                                           "127.0.2.5", "127.0.2.6", "127.0.2.7"));
  EXPECT_THAT(Strings(*ParseAddressSpec("127.0.3.4/32")), ElementsAre("127.0.3.4"));
  EXPECT_THAT(Strings(*ParseAddressSpec("fd00::/126")),
              ElementsAre("fd00::", "fd00::1", "fd00::2", "fd00::3"));
  EXPECT_THAT(Strings(*ParseAddressSpec("::1/128")), ElementsAre("::1"));
  EXPECT_EQ(ParseAddressSpec("127.0.0.0/16")->size(), 65536u);
}

TEST(ParseAddressSpecTest, CidrErrors) {
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.0.0/33").status()),
            "\"127.0.0.0/33\": prefix length must be 0..32");
  EXPECT_EQ(ErrorOf(ParseAddressSpec("fd00::/129").status()), "\"fd00::/129\": prefix length must be 0..128");
  for (const char* bad : {"127.0.0.0/", "127.0.0.0/-1", "127.0.0.0/x", "127.0.0.0/1000", "127.0.0.0/24/1"}) {
    EXPECT_THAT(ErrorOf(ParseAddressSpec(bad).status()), HasSubstr("prefix length must be 0..32")) << bad;
  }
  EXPECT_THAT(ErrorOf(ParseAddressSpec("127.0.0.300/24").status()),
              HasSubstr("\"127.0.0.300\" is not an IPv4 or IPv6 address"));
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.2.3/29").status()),
            "\"127.0.2.3/29\": address has bits set past the prefix (did you mean "
            "127.0.2.0/29?)");
}

TEST(ParseAddressSpecTest, RefusesMoreThanMax) {
  EXPECT_EQ(ErrorOf(ParseAddressSpec("0.0.0.0/0").status()),
            "\"0.0.0.0/0\" has 4294967296 addresses; at most 1048576 are allowed");
  EXPECT_EQ(ErrorOf(ParseAddressSpec("::/0").status()),
            "\"::/0\" has 2^128 addresses; at most 1048576 are allowed");
  EXPECT_EQ(ErrorOf(ParseAddressSpec("fd00::/64").status()),
            "\"fd00::/64\" has 2^64 addresses; at most 1048576 are allowed");
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.0.0/29", 7).status()),
            "\"127.0.0.0/29\" has 8 addresses; at most 7 are allowed");
  EXPECT_EQ(ParseAddressSpec("127.0.0.0/29", 8)->size(), 8u);
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.1.1-127.0.1.10", 9).status()),
            "range \"127.0.1.1-127.0.1.10\" has 10 addresses; at most 9 are allowed");
  EXPECT_EQ(ParseAddressSpec("127.0.1.1-127.0.1.10", 10)->size(), 10u);
  EXPECT_EQ(ErrorOf(ParseAddressSpec("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").status()),
            "range \"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\" has 2^128 addresses; at most "
            "1048576 are allowed");
  EXPECT_EQ(ErrorOf(ParseAddressSpec("::-1::").status()),
            "range \"::-1::\" has 5192296858534827628530496329220097 addresses; at most "
            "1048576 are allowed");
}

TEST(ParseAddressSpecTest, SingleErrorSaysWhatIsExpected) {
  EXPECT_EQ(ErrorOf(ParseAddressSpec("127.0.1.300").status()),
            "\"127.0.1.300\" is not an IPv4 or IPv6 address; expected an address, a range "
            "FIRST-LAST or a prefix ADDR/LEN");
}

TEST(ParseEndpointTest, IPv4AndIPv6) {
  absl::StatusOr<Endpoint> v4 = ParseEndpoint("1.2.3.4:80");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->address.ToString(), "1.2.3.4");
  EXPECT_EQ(v4->port, 80);
  EXPECT_EQ(v4->ToString(), "1.2.3.4:80");

  absl::StatusOr<Endpoint> v6 = ParseEndpoint("[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->address.family, AF_INET6);
  EXPECT_EQ(v6->port, 65535);
  EXPECT_EQ(v6->ToString(), "[::1]:65535");
  EXPECT_EQ(ParseEndpoint("127.0.0.1:1")->port, 1);
}

TEST(ParseEndpointTest, PortZeroOnlyWhenAllowed) {
  EXPECT_EQ(ErrorOf(ParseEndpoint("127.0.0.1:0").status()),
            "\"127.0.0.1:0\": port \"0\" must be a number 1..65535");
  absl::StatusOr<Endpoint> zero = ParseEndpoint("127.0.0.1:0", /*allow_port_zero=*/true);
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->port, 0);
  EXPECT_EQ(ErrorOf(ParseEndpoint("127.0.0.1:65536", true).status()),
            "\"127.0.0.1:65536\": port \"65536\" must be a number 0..65535");
}

TEST(ParseEndpointTest, Errors) {
  EXPECT_EQ(ErrorOf(ParseEndpoint("127.0.0.1").status()), "\"127.0.0.1\" is missing \":PORT\"");
  EXPECT_EQ(ErrorOf(ParseEndpoint("[::1]").status()), "\"[::1]\" is missing \":PORT\"");
  EXPECT_THAT(ErrorOf(ParseEndpoint("").status()), HasSubstr("expected ADDR:PORT"));
  EXPECT_THAT(ErrorOf(ParseEndpoint("::1:80").status()), HasSubstr("[ADDR]:PORT"));
  EXPECT_THAT(ErrorOf(ParseEndpoint("[::1:80").status()), HasSubstr("closing"));
  EXPECT_THAT(ErrorOf(ParseEndpoint("[127.0.0.1]:80").status()), HasSubstr("is not an IPv6 address"));
  EXPECT_THAT(ErrorOf(ParseEndpoint("[::1]80").status()), HasSubstr("expected \":PORT\""));
  EXPECT_EQ(ErrorOf(ParseEndpoint("127.0.0.300:80").status()),
            "\"127.0.0.300:80\": \"127.0.0.300\" is not an IPv4 or IPv6 address");
  for (const char* bad : {"127.0.0.1:", "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:8o", "127.0.0.1:080000",
                          "127.0.0.1:99999999999999999999"}) {
    EXPECT_THAT(ErrorOf(ParseEndpoint(bad).status()), HasSubstr("must be a number 1..65535")) << bad;
  }
  EXPECT_THAT(ErrorOf(ParseEndpoint("localhost").status()), HasSubstr("\"localhost\""));
}

TEST(ParseEndpointListTest, SplitsAndReportsTheBadEntry) {
  absl::StatusOr<std::vector<Endpoint>> list =
      ParseEndpointList("127.0.0.1:9000, [::1]:9001,127.0.0.2:0", /*allow_port_zero=*/true);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].ToString(), "127.0.0.1:9000");
  EXPECT_EQ((*list)[1].ToString(), "[::1]:9001");
  EXPECT_EQ((*list)[2].ToString(), "127.0.0.2:0");

  EXPECT_THAT(ErrorOf(ParseEndpointList("127.0.0.1:9000,127.0.0.1").status()),
              HasSubstr("\"127.0.0.1\" is missing \":PORT\""));
  EXPECT_THAT(ErrorOf(ParseEndpointList("127.0.0.1:9000,,127.0.0.1:9001").status()),
              HasSubstr("empty entry"));
  EXPECT_THAT(ErrorOf(ParseEndpointList("").status()), HasSubstr("empty entry"));
}

TEST(EndpointTest, SockaddrRoundTripV4) {
  Endpoint endpoint = *ParseEndpoint("127.0.3.4:4567");
  sockaddr_storage storage;
  socklen_t length = endpoint.ToSockaddr(&storage);
  ASSERT_EQ(length, sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
  EXPECT_EQ(in->sin_family, AF_INET);
  EXPECT_EQ(ntohs(in->sin_port), 4567);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7f000304u);

  Endpoint back = Endpoint::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage));
  EXPECT_EQ(back.address, endpoint.address);
  EXPECT_EQ(back.port, 4567);
}

TEST(EndpointTest, SockaddrRoundTripV6) {
  Endpoint endpoint = *ParseEndpoint("[fd00::1:2]:80");
  sockaddr_storage storage;
  socklen_t length = endpoint.ToSockaddr(&storage);
  ASSERT_EQ(length, sizeof(sockaddr_in6));
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  EXPECT_EQ(in6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6->sin6_port), 80);
  EXPECT_EQ(in6->sin6_flowinfo, 0u);
  EXPECT_EQ(in6->sin6_scope_id, 0u);

  Endpoint back = Endpoint::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage));
  EXPECT_EQ(back.ToString(), "[fd00::1:2]:80");
}

TEST(EndpointTest, WorksWithARealSocket) {
  // Bind to port 0 on a 127.x address and read the kernel's choice back.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  Endpoint endpoint = *ParseEndpoint("127.0.9.9:0", true);
  sockaddr_storage storage;
  socklen_t length = endpoint.ToSockaddr(&storage);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&storage), length), 0) << errno;
  sockaddr_storage bound;
  socklen_t bound_length = sizeof(bound);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length), 0);
  Endpoint actual = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&bound));
  close(fd);
  EXPECT_EQ(actual.address.ToString(), "127.0.9.9");
  EXPECT_NE(actual.port, 0);
}

TEST(CidrTest, ContainsIPv4) {
  absl::StatusOr<Cidr> loopback = ParseCidr("127.0.0.0/8");
  ASSERT_TRUE(loopback.ok()) << loopback.status();
  EXPECT_EQ(loopback->ToString(), "127.0.0.0/8");
  EXPECT_TRUE(loopback->Contains(*ParseIpAddress("127.0.0.1")));
  EXPECT_TRUE(loopback->Contains(*ParseIpAddress("127.255.255.255")));
  EXPECT_FALSE(loopback->Contains(*ParseIpAddress("128.0.0.0")));
  EXPECT_FALSE(loopback->Contains(*ParseIpAddress("126.255.255.255")));
  EXPECT_FALSE(loopback->Contains(*ParseIpAddress("::1")));

  Cidr bench = *ParseCidr("198.18.0.0/15");
  EXPECT_TRUE(bench.Contains(*ParseIpAddress("198.19.255.1")));
  EXPECT_FALSE(bench.Contains(*ParseIpAddress("198.20.0.1")));

  Cidr all = *ParseCidr("0.0.0.0/0");
  EXPECT_TRUE(all.Contains(*ParseIpAddress("8.8.8.8")));
  EXPECT_FALSE(all.Contains(*ParseIpAddress("::")));

  Cidr host = *ParseCidr("127.0.0.1/32");
  EXPECT_TRUE(host.Contains(*ParseIpAddress("127.0.0.1")));
  EXPECT_FALSE(host.Contains(*ParseIpAddress("127.0.0.2")));
}

TEST(CidrTest, ContainsIPv6) {
  Cidr ula = *ParseCidr("fd00::/8");
  EXPECT_TRUE(ula.Contains(*ParseIpAddress("fd12:3456::1")));
  EXPECT_FALSE(ula.Contains(*ParseIpAddress("fe80::1")));
  EXPECT_FALSE(ula.Contains(*ParseIpAddress("127.0.0.1")));

  Cidr odd = *ParseCidr("2001:db8:8000::/33");
  EXPECT_TRUE(odd.Contains(*ParseIpAddress("2001:db8:ffff::1")));
  EXPECT_FALSE(odd.Contains(*ParseIpAddress("2001:db8:7fff::1")));

  Cidr low_half = *ParseCidr("::/65");  // boundary inside the low 64 bits
  EXPECT_TRUE(low_half.Contains(*ParseIpAddress("::7fff:ffff:ffff:ffff")));
  EXPECT_FALSE(low_half.Contains(*ParseIpAddress("::8000:0:0:0")));

  Cidr loopback = *ParseCidr("::1/128");
  EXPECT_TRUE(loopback.Contains(*ParseIpAddress("::1")));
  EXPECT_FALSE(loopback.Contains(*ParseIpAddress("::2")));
  EXPECT_TRUE(ParseCidr("::/0")->Contains(*ParseIpAddress("2001:db8::1")));
}

TEST(CidrTest, LoneAddressIsAHostPrefix) {
  EXPECT_EQ(ParseCidr("127.0.0.1")->ToString(), "127.0.0.1/32");
  EXPECT_EQ(ParseCidr("::1")->ToString(), "::1/128");
}

TEST(CidrTest, Errors) {
  EXPECT_EQ(ErrorOf(ParseCidr("127.0.0.0/33").status()), "\"127.0.0.0/33\": prefix length must be 0..32");
  EXPECT_THAT(ErrorOf(ParseCidr("127.0.0.1/8").status()), HasSubstr("did you mean 127.0.0.0/8"));
  EXPECT_THAT(ErrorOf(ParseCidr("loopback").status()),
              HasSubstr("\"loopback\" is not an IPv4 or IPv6 address; expected ADDR/LEN"));
}

}  // namespace
}  // namespace fourtuple
