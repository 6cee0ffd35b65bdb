#include "coordinator/compare_command.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;

using Rows = std::vector<std::vector<std::string>>;

// The row whose label is `label`; empty when there is none.
std::vector<std::string> RowOf(const Rows& rows, const std::string& label) {
  for (const std::vector<std::string>& row : rows) {
    if (!row.empty() && row[0] == label) return row;
  }
  return {};
}

const ReportJson kA = ReportJson::parse(R"({
  "format": "fourtuple-report", "format_version": 1, "outcome": "pass",
  "totals": {"requested": 1000, "established": 1000, "failed": 0, "connect_seconds": 2.0,
             "connect_rate": 500.0, "echo_rate": 0},
  "failures": {"EADDRNOTAVAIL": 10},
  "latency_ms": {"connect": {"p50": 0.2, "p99": 3.0, "p999": 9.0, "max": 20.0}},
  "agents": [{"host_facts": {"memory_total_bytes": 1073741824}},
             {"host_facts": {"memory_total_bytes": 1073741824}}]
})");

const ReportJson kB = ReportJson::parse(R"({
  "format": "fourtuple-report", "format_version": 1, "outcome": "fail",
  "totals": {"requested": 2000, "established": 1500, "failed": 500, "connect_seconds": 1.0,
             "connect_rate": 1500.0, "echo_rate": 300},
  "failures": {"EADDRNOTAVAIL": 30, "ECONNREFUSED": 470},
  "latency_ms": {"connect": {"p50": 0.1, "p99": 6.0}}
})");

TEST(CompareReportsTest, EachFigureWithItsRatio) {
  const Rows rows = CompareReports(kA, kB, "a.json", "b.json");
  EXPECT_THAT(rows.at(0), ElementsAre("", "a.json", "b.json", "B/A"));
  EXPECT_THAT(RowOf(rows, "outcome"), ElementsAre("outcome", "pass", "fail", ""));
  EXPECT_THAT(RowOf(rows, "requested"), ElementsAre("requested", "1,000", "2,000", "2x"));
  EXPECT_THAT(RowOf(rows, "established"), ElementsAre("established", "1,000", "1,500", "1.5x"));
  EXPECT_THAT(RowOf(rows, "connect rate"), ElementsAre("connect rate", "500/s", "1,500/s", "3x"));
  EXPECT_THAT(RowOf(rows, "connect time"), ElementsAre("connect time", "2 s", "1 s", "0.5x"));
  EXPECT_THAT(RowOf(rows, "connect p99"), ElementsAre("connect p99", "3 ms", "6 ms", "2x"));
  EXPECT_THAT(RowOf(rows, "connect p50"), ElementsAre("connect p50", "0.2 ms", "0.1 ms", "0.5x"));
}

TEST(CompareReportsTest, RatioBlankWhenAIsZeroOrAFigureIsMissing) {
  const Rows rows = CompareReports(kA, kB, "a", "b");
  EXPECT_THAT(RowOf(rows, "failed"), ElementsAre("failed", "0", "500", ""));
  EXPECT_THAT(RowOf(rows, "echo rate"), ElementsAre("echo rate", "0/s", "300/s", ""));
  EXPECT_THAT(RowOf(rows, "connect max"), ElementsAre("connect max", "20 ms", "-", ""));
  EXPECT_THAT(RowOf(rows, "echo_rtt p50"), ElementsAre("echo_rtt p50", "-", "-", ""));
  // Memory only A's agents reported: summed over them.
  EXPECT_THAT(RowOf(rows, "agents' memory"), ElementsAre("agents' memory", "2.0 GiB", "-", ""));
  // Neither names a target: no target rows.
  EXPECT_TRUE(RowOf(rows, "target accepted").empty());
}

TEST(CompareReportsTest, FailureReasonsOfEitherRun) {
  const Rows rows = CompareReports(kA, kB, "a", "b");
  EXPECT_THAT(RowOf(rows, "failures EADDRNOTAVAIL"), ElementsAre("failures EADDRNOTAVAIL", "10", "30", "3x"));
  // Only B saw it: A's failures map has no entry, so A counted none.
  EXPECT_THAT(RowOf(rows, "failures ECONNREFUSED"), ElementsAre("failures ECONNREFUSED", "0", "470", ""));
  // And the other way round.
  const Rows reversed = CompareReports(kB, kA, "b", "a");
  EXPECT_THAT(RowOf(reversed, "failures ECONNREFUSED"),
              ElementsAre("failures ECONNREFUSED", "470", "0", "0x"));
}

TEST(CompareReportsTest, ReportsWithoutFiguresGiveDashes) {
  // A refused run's report has no totals, failures or latencies.
  const ReportJson refused = ReportJson::parse(R"({"format": "fourtuple-report", "format_version": 1,
                                                   "outcome": "refused", "totals": "odd"})");
  const Rows rows = CompareReports(refused, kB, "r", "b");
  EXPECT_THAT(RowOf(rows, "outcome"), ElementsAre("outcome", "refused", "fail", ""));
  EXPECT_THAT(RowOf(rows, "requested"), ElementsAre("requested", "-", "2,000", ""));
  EXPECT_THAT(RowOf(rows, "failures ECONNREFUSED"), ElementsAre("failures ECONNREFUSED", "-", "470", ""));
}

}  // namespace
}  // namespace fourtuple::coordinator
