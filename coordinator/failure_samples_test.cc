#include "coordinator/failure_samples.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FailureSamplesTest, ReportCarriesEscapedBytesPerReason) {
  v1::RunReport report;
  (*report.mutable_failure_samples())["greeting_mismatch"] = std::string("554 busy\r\n\x1b[2J\xff\0", 16);
  (*report.mutable_failure_samples())["echo_mismatch"] = "-DENIED \"x\"";
  const ReportJson json = FailureSamplesJson(report.failure_samples());
  EXPECT_EQ(json.dump(),
            R"({"echo_mismatch":"-DENIED \\\"x\\\"","greeting_mismatch":"554 busy\\r\\n\\x1b[2J\\xff\\0"})");
}

TEST(FailureSamplesTest, FirstAgentsSampleWinsAndOddValuesAreSkipped) {
  const ReportJson agents = ReportJson::parse(R"([
    {"failure_samples": {"echo_mismatch": 7}},
    {"failure_samples": {"echo_mismatch": "first", "greeting_mismatch": "g"}},
    {"failure_samples": {"echo_mismatch": "second"}},
    "not an agent", {"failure_samples": []}])");
  const auto first = FirstSamples(agents);
  EXPECT_EQ(first.at("echo_mismatch"), "first");
  EXPECT_EQ(first.at("greeting_mismatch"), "g");
  EXPECT_TRUE(FirstSamples(ReportJson::object()).empty());
}

TEST(FailureSamplesTest, LinesAreSafeForATerminal) {
  const std::string line =
      FormatSampleAnnouncement(1.5, "127.0.0.1:7001", "echo_mismatch", "\x1b]0;owned\x07ok");
  EXPECT_THAT(line,
              HasSubstr("agent 127.0.0.1:7001: echo_mismatch, the target said: \"\\x1b]0;owned\\x07ok\""));
  EXPECT_THAT(line, Not(HasSubstr("\x1b")));
  // A sample read back from a report file is escaped again for the terminal.
  EXPECT_THAT(FormatSampleLine(2, "a\x1b[2Jb"), Not(HasSubstr("\x1b")));
  EXPECT_THAT(FormatSampleLine(2, "+OK\\r\\n"), HasSubstr("reply: \"+OK\\r\\n\""));
}

}  // namespace
}  // namespace fourtuple::coordinator
