#include "coordinator/summary_checks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(SummaryChecksTest, LatencyWithoutSamplesIsNa) {
  Json latency;
  latency["connect"] = LatencyEntry(10, 0.2, 1.5, 2.0, 3.25);
  latency["echo_rtt"] = LatencyEntry(0, 0, 0, 0, 0);
  EXPECT_TRUE(latency["echo_rtt"]["p50"].is_null());
  const std::string table = FormatLatencyTable(latency);
  EXPECT_THAT(table, HasSubstr("  connect       0.200    1.500    2.000    3.250\n"));
  EXPECT_THAT(table, HasSubstr("  echo_rtt        n/a      n/a      n/a      n/a\n"));
  EXPECT_THAT(table, Not(HasSubstr("queued")));  // absent from an older report: no row
  // An older report's zeros with count 0 are n/a too.
  latency["connect_queue"] = {{"p50", 0.0}, {"p99", 0.0}, {"p999", 0.0}, {"max", 0.0}, {"count", 0}};
  EXPECT_THAT(FormatLatencyTable(latency), HasSubstr("  queued          n/a"));
}

TEST(SummaryChecksTest, EchoChecksAddUpAndSaySkippedWhy) {
  EchoCheckCounts c = CountEchoChecks({.rounds = 2,
                                       .established = 10,
                                       .sent = 10,
                                       .verified = 0,
                                       .failed = 10,
                                       .mismatched = 10,
                                       .send_expect = true});
  EXPECT_EQ(c.planned, 20u);
  EXPECT_EQ(c.ran, 10u);
  EXPECT_EQ(c.failed, 10u);
  EXPECT_EQ(c.skipped, 10u);
  EXPECT_EQ(c.skipped_because, "a connection whose reply did not match echo.expect is closed");
  EXPECT_EQ(c.planned, c.passed + c.failed + c.skipped);
  EchoCheckCounts all = CountEchoChecks({.rounds = 1, .established = 5, .sent = 5, .verified = 5});
  EXPECT_EQ(all.skipped, 0u);
  EXPECT_TRUE(all.skipped_because.empty());
}

TEST(SummaryChecksTest, HintsFollowTheEchoMode) {
  Json unique = {{"echo", {{"rounds", 1}, {"payload_bytes", 16}}}};
  Json send_expect = {{"echo", {{"rounds", 1}, {"send", "PING\r\n"}, {"expect", "+PONG\r\n"}}}};
  EXPECT_THAT(ModeReasonHint("echo_mismatch", unique), HasSubstr("byte-exact echo server"));
  EXPECT_THAT(ModeReasonHint("echo_mismatch", send_expect), Not(HasSubstr("echo server")));
  EXPECT_THAT(ModeReasonHint("echo_mismatch", send_expect), HasSubstr("differs from echo.expect"));
  EXPECT_THAT(ModeReasonHint("echo_timeout", send_expect), HasSubstr("echo.expect"));
  EXPECT_EQ(ModeReasonHint("EMFILE", send_expect), ModeReasonHint("EMFILE", unique));
  Json hex = {{"echo", {{"rounds", 1}, {"send", {{"hex", "c000"}}}, {"expect", {{"hex", "d000"}}}}}};
  EXPECT_THAT(ModeReasonHint("echo_mismatch", hex), HasSubstr("differs from echo.expect"));

  Json report = {{"plan", send_expect},
                 {"failures", {{"echo_mismatch", 3}}},
                 {"agents", {{{"failure_samples", {{"echo_mismatch", "PING\\r\\n"}}}}}}};
  const std::string detail = FormatMismatchDetail(report);
  EXPECT_THAT(detail, HasSubstr("expected: \"+PONG\\r\\n\""));
  EXPECT_THAT(detail, HasSubstr("received: \"PING"));
}

}  // namespace
}  // namespace fourtuple::coordinator
