#include "agent/assignment_validation.h"

#include <cmath>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "agent/worker/worker_protocol.h"
#include "common/local_routes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;

ValidationPolicy LoopbackPolicy() {
  ValidationPolicy policy;
  policy.allow_targets = {*ParseCidr("127.0.0.0/8"), *ParseCidr("::1/128")};
  policy.allow_targets_text = "127.0.0.0/8,::1/128";
  policy.local_addresses = ParseLocalAddresses({"127.0.0.1", "::1", "192.0.2.7", "fe80::1%eth0"});
  return policy;
}

v1::Assignment Valid() {
  v1::Assignment a;
  a.set_run_id("run-1");
  a.add_targets("127.0.0.1:9000");
  a.add_targets("127.0.0.1:9001");
  a.add_source_addresses("127.0.1.1");
  a.add_source_addresses("127.0.1.2");
  a.set_connections(1000);
  a.set_connect_rate(500);
  a.set_max_in_flight(64);
  a.set_connect_timeout_ms(5000);
  a.set_payload_bytes(16);
  a.set_echo_timeout_ms(5000);
  a.set_report_interval_ms(1000);
  a.set_lease_ms(10000);
  return a;
}

// Applies `mutate` to a valid assignment and expects `code` with `field` in
// the message.
void ExpectRefused(const std::function<void(v1::Assignment&)>& mutate, absl::StatusCode code,
                   const std::string& field) {
  v1::Assignment a = Valid();
  mutate(a);
  absl::StatusOr<ValidatedAssignment> result = ValidateAssignment(a, LoopbackPolicy());
  ASSERT_FALSE(result.ok()) << "accepted, expected an error naming " << field;
  EXPECT_EQ(result.status().code(), code) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr(field));
}

TEST(AssignmentValidationTest, AcceptsValidAndParsesAddresses) {
  absl::StatusOr<ValidatedAssignment> result = ValidateAssignment(Valid(), LoopbackPolicy());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->targets.size(), 2u);
  EXPECT_EQ(result->targets[1].port, 9001);
  ASSERT_EQ(result->sources.entries().size(), 2u);
  EXPECT_EQ(result->sources.AddressOf(0).ToString(), "127.0.1.1");
  EXPECT_EQ(result->sources.AddressOf(1).ToString(), "127.0.1.2");
  EXPECT_EQ(result->assignment.connections(), 1000u);
}

TEST(AssignmentValidationTest, Ipv6Loopback) {
  v1::Assignment a = Valid();
  a.clear_targets();
  a.add_targets("[::1]:9000");
  a.clear_source_addresses();
  a.add_source_addresses("::1");
  absl::StatusOr<ValidatedAssignment> result = ValidateAssignment(a, LoopbackPolicy());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sources.AddressOf(0).ToString(), "::1");
}

TEST(AssignmentValidationTest, RunId) {
  ExpectRefused([](auto& a) { a.clear_run_id(); }, absl::StatusCode::kInvalidArgument, "assignment.run_id");
  ExpectRefused([](auto& a) { a.set_run_id(std::string(129, 'x')); }, absl::StatusCode::kInvalidArgument,
                "assignment.run_id");
  ExpectRefused([](auto& a) { a.set_run_id("a\nb"); }, absl::StatusCode::kInvalidArgument,
                "assignment.run_id");
}

// A refusal names the run; an id that is not valid is shown escaped and cut.
TEST(AssignmentValidationTest, RunIdForLog) {
  EXPECT_EQ(RunIdForLog("run-42"), "run-42");
  EXPECT_EQ(RunIdForLog("r1\nW forged"), "\"r1\\nW forged\" (11 bytes)");
  EXPECT_EQ(RunIdForLog(""), "\"\" (0 bytes)");
  EXPECT_EQ(RunIdForLog(std::string(3 << 20, 'x')),
            absl::StrCat("\"", std::string(32, 'x'), "...\" (3,145,728 bytes)"));
}

TEST(AssignmentValidationTest, Targets) {
  ExpectRefused([](auto& a) { a.clear_targets(); }, absl::StatusCode::kInvalidArgument, "assignment.targets");
  ExpectRefused(
      [](auto& a) {
        for (int i = 0; i < kMaxTargets; ++i) a.add_targets(absl::StrCat("127.0.0.1:", 10000 + i));
      },
      absl::StatusCode::kInvalidArgument, "assignment.targets");
  ExpectRefused([](auto& a) { a.set_targets(1, "127.0.0.1"); }, absl::StatusCode::kInvalidArgument,
                "assignment.targets[1]");
  ExpectRefused([](auto& a) { a.set_targets(1, "127.0.0.1:0"); }, absl::StatusCode::kInvalidArgument,
                "assignment.targets[1]");
  ExpectRefused([](auto& a) { a.set_targets(0, "example.com:80"); }, absl::StatusCode::kInvalidArgument,
                "assignment.targets[0]");
}

TEST(AssignmentValidationTest, TargetOutsideAllowListIsPermissionDenied) {
  ExpectRefused([](auto& a) { a.set_targets(1, "192.0.2.1:80"); }, absl::StatusCode::kPermissionDenied,
                "--allow-targets=127.0.0.0/8,::1/128");
  ExpectRefused([](auto& a) { a.set_targets(1, "192.0.2.1:80"); }, absl::StatusCode::kPermissionDenied,
                "assignment.targets[1]");
  // Allowed once the policy includes it.
  v1::Assignment a = Valid();
  a.clear_targets();
  a.add_targets("198.18.0.1:9000");
  a.clear_source_addresses();
  a.add_source_addresses("192.0.2.7");
  ValidationPolicy policy = LoopbackPolicy();
  policy.allow_targets.push_back(*ParseCidr("198.18.0.0/15"));
  EXPECT_TRUE(ValidateAssignment(a, policy).ok());
}

TEST(AssignmentValidationTest, Sources) {
  ExpectRefused([](auto& a) { a.clear_source_addresses(); }, absl::StatusCode::kInvalidArgument,
                "assignment.source_addresses");
  ExpectRefused(
      [](auto& a) {
        for (int i = 0; i < kMaxSourceAddresses; ++i) a.add_source_addresses("127.0.0.1");
      },
      absl::StatusCode::kInvalidArgument, "assignment.source_addresses");
  // Ranges and CIDRs are the coordinator's to expand.
  ExpectRefused([](auto& a) { a.set_source_addresses(1, "127.0.1.1-127.0.1.8"); },
                absl::StatusCode::kInvalidArgument, "assignment.source_addresses[1]");
  ExpectRefused([](auto& a) { a.set_source_addresses(0, "127.0.2.0/33"); },
                absl::StatusCode::kInvalidArgument, "assignment.source_addresses[0]");
  ExpectRefused([](auto& a) { a.set_source_addresses(0, "0.0.0.0/0"); }, absl::StatusCode::kInvalidArgument,
                "assignment.source_addresses[0]: a prefix of length 0");
  // A prefix inside no local route: named, with the fix.
  ExpectRefused([](auto& a) { a.set_source_addresses(1, "198.18.0.0/15"); },
                absl::StatusCode::kInvalidArgument,
                "source_addresses[1]: 198.18.0.0/15 is inside no local route of this host: make the prefix "
                "local (deploy/host/sources.sh anyip add lo 198.18.0.0/15");
  // Not an address of this host: named.
  ExpectRefused([](auto& a) { a.set_source_addresses(1, "192.0.2.99"); }, absl::StatusCode::kInvalidArgument,
                "source_addresses[1]: 192.0.2.99");
  // IPv6 source for IPv4 targets.
  ExpectRefused([](auto& a) { a.set_source_addresses(1, "::1"); }, absl::StatusCode::kInvalidArgument,
                "assignment.source_addresses[1]");
}

TEST(AssignmentValidationTest, LoopbackRangeIsLocalWhenHostHasLoopback) {
  std::vector<IpAddress> with_lo = ParseLocalAddresses({"127.0.0.1", "10.1.2.3"});
  auto local = [](const char* text, const std::vector<IpAddress>& addresses,
                  const std::vector<Cidr>& routes = {}) {
    return SourceIsLocal(*ParseCidr(text), addresses, routes);
  };
  EXPECT_TRUE(local("127.0.0.1", with_lo));
  EXPECT_TRUE(local("127.200.3.4", with_lo));
  EXPECT_TRUE(local("127.1.0.0/16", with_lo));
  EXPECT_TRUE(local("10.1.2.3", with_lo));
  EXPECT_FALSE(local("10.1.2.4", with_lo));
  EXPECT_FALSE(local("::1", with_lo));

  std::vector<IpAddress> without_lo = ParseLocalAddresses({"10.1.2.3"});
  EXPECT_FALSE(local("127.0.0.1", without_lo));
  EXPECT_TRUE(local("10.1.2.3", without_lo));
}

// A prefix is local inside one local route, whatever its size; a single
// address inside one is too.
TEST(AssignmentValidationTest, PrefixesAreLocalInsideALocalRoute) {
  std::vector<IpAddress> addresses = ParseLocalAddresses({"127.0.0.1", "::1"});
  std::vector<Cidr> routes = ParseLocalRoutes({"198.18.0.0/15", "2001:db8:7::/64", "not a route"});
  auto local = [&](const char* text) { return SourceIsLocal(*ParseCidr(text), addresses, routes); };
  EXPECT_TRUE(local("198.18.0.0/15"));
  EXPECT_TRUE(local("198.19.4.0/24"));
  EXPECT_TRUE(local("198.19.4.7"));
  EXPECT_FALSE(local("198.16.0.0/14"));  // wider than the route
  EXPECT_TRUE(local("2001:db8:7::/64"));
  EXPECT_TRUE(local("2001:db8:7::1234:5678"));
  EXPECT_FALSE(local("2001:db8:8::/64"));
  EXPECT_FALSE(local("2001:db8::/32"));
}

TEST(AssignmentValidationTest, Sizes) {
  ExpectRefused([](auto& a) { a.set_connections(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.connections");
  ExpectRefused([](auto& a) { a.set_connections(kMaxAgentConnections + 1); },
                absl::StatusCode::kInvalidArgument, "assignment.connections");
  ExpectRefused([](auto& a) { a.set_payload_bytes(kMinPayloadBytes - 1); },
                absl::StatusCode::kInvalidArgument, "assignment.payload_bytes");
  ExpectRefused([](auto& a) { a.set_payload_bytes(kMaxPayloadBytes + 1); },
                absl::StatusCode::kInvalidArgument, "assignment.payload_bytes");
  ExpectRefused([](auto& a) { a.set_max_in_flight(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.max_in_flight");
  ExpectRefused([](auto& a) { a.set_processes(1025); }, absl::StatusCode::kInvalidArgument,
                "assignment.processes");
  ExpectRefused([](auto& a) { a.set_connect_rate(-1); }, absl::StatusCode::kInvalidArgument,
                "assignment.connect_rate");
  ExpectRefused([](auto& a) { a.set_connect_rate(std::nan("")); }, absl::StatusCode::kInvalidArgument,
                "assignment.connect_rate");
  ExpectRefused([](auto& a) { a.set_connect_rate(std::numeric_limits<double>::infinity()); },
                absl::StatusCode::kInvalidArgument, "assignment.connect_rate");

  v1::Assignment a = Valid();
  a.set_connect_rate(0);  // unlimited
  a.set_processes(0);     // agent decides
  a.set_connections(kMaxAgentConnections);
  a.set_payload_bytes(kMaxPayloadBytes);
  a.set_max_in_flight(UINT32_MAX);
  EXPECT_TRUE(ValidateAssignment(a, LoopbackPolicy()).ok());
}

TEST(AssignmentValidationTest, SendExpect) {
  // The fixed request replaces the payload: payload_bytes must be 0.
  v1::Assignment a = Valid();
  a.set_payload_bytes(0);
  a.set_echo_send("PING\r\n");
  a.set_echo_expect("+PONG\r\n");
  absl::StatusOr<ValidatedAssignment> result = ValidateAssignment(a, LoopbackPolicy());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->assignment.echo_expect(), "+PONG\r\n");
  a.set_echo_send(std::string(kMaxSendExpectBytes, '\0'));  // any bytes, NUL included
  a.set_echo_expect(std::string(kMaxSendExpectBytes, '\xff'));
  EXPECT_TRUE(ValidateAssignment(a, LoopbackPolicy()).ok());

  auto fixed = [](v1::Assignment& x) {
    x.set_payload_bytes(0);
    x.set_echo_send("PING\r\n");
    x.set_echo_expect("+PONG\r\n");
  };
  ExpectRefused(
      [&](auto& x) {
        fixed(x);
        x.clear_echo_expect();
      },
      absl::StatusCode::kInvalidArgument, "assignment.echo_expect: missing");
  ExpectRefused(
      [&](auto& x) {
        fixed(x);
        x.clear_echo_send();
      },
      absl::StatusCode::kInvalidArgument, "assignment.echo_send: missing");
  ExpectRefused(
      [&](auto& x) {
        fixed(x);
        x.set_payload_bytes(16);
      },
      absl::StatusCode::kInvalidArgument,
      "assignment.payload_bytes: 16 with echo_send/echo_expect; expected 0");
  ExpectRefused(
      [&](auto& x) {
        fixed(x);
        x.set_echo_send(std::string(kMaxSendExpectBytes + 1, 'a'));
      },
      absl::StatusCode::kInvalidArgument, "assignment.echo_send: 4097 bytes is outside 1..4096");
  ExpectRefused(
      [&](auto& x) {
        fixed(x);
        x.set_echo_expect(std::string(1 << 20, 'a'));
      },
      absl::StatusCode::kInvalidArgument, "assignment.echo_expect: 1048576 bytes is outside");
  // Without them payload_bytes 0 is no payload at all.
  ExpectRefused([](auto& x) { x.set_payload_bytes(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.payload_bytes: 0 is outside 16..4096");
}

TEST(AssignmentValidationTest, Durations) {
  ExpectRefused([](auto& a) { a.set_connect_timeout_ms(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.connect_timeout_ms");
  ExpectRefused([](auto& a) { a.set_connect_timeout_ms(kMaxTimeoutMs + 1); },
                absl::StatusCode::kInvalidArgument, "assignment.connect_timeout_ms");
  ExpectRefused([](auto& a) { a.set_echo_timeout_ms(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.echo_timeout_ms");
  ExpectRefused([](auto& a) { a.set_report_interval_ms(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.report_interval_ms");
  ExpectRefused([](auto& a) { a.set_report_interval_ms(kMinReportIntervalMs - 1); },
                absl::StatusCode::kInvalidArgument, "assignment.report_interval_ms");
  ExpectRefused([](auto& a) { a.set_lease_ms(0); }, absl::StatusCode::kInvalidArgument,
                "assignment.lease_ms");
  ExpectRefused([](auto& a) { a.set_lease_ms(kMaxLeaseMs + 1); }, absl::StatusCode::kInvalidArgument,
                "assignment.lease_ms");
}

}  // namespace
}  // namespace fourtuple::agent
