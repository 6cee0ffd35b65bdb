// What `coordinator run` prints while a run goes and at its end, with real
// agents: not on a terminal, one plain progress line per report interval
// and each failure reason announced once per agent with its cause and fix;
// then the human summary.
#include <sys/wait.h>

#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/coordinator_cli.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::StartAgent;
using ::fourtuple::testing::StartedAgent;
using ::fourtuple::testing::WritePlan;
using json = nlohmann::json;

// The target port has no listener: every connect is refused (ECONNREFUSED),
// on both agents, for the whole ramp.
TEST(ProgressOutputTest, PlainLinesAndEachFailureReasonOncePerAgent) {
  const std::string dir = MakeTempDir("ft-progress");
  StartedAgent a = StartAgent({AGENT_BIN, "--processes=1"}, "agent1", dir);
  StartedAgent b = StartAgent({AGENT_BIN, "--processes=1"}, "agent2", dir);
  ASSERT_FALSE(a.endpoint.empty() || b.endpoint.empty());
  const json plan = {{"target", {{"endpoints", {testing::ClosedLoopbackEndpoint()}}}},
                     {"agents",
                      {{{"endpoint", a.endpoint}, {"source_addresses", {"127.0.1.1-127.0.1.2"}}},
                       {{"endpoint", b.endpoint}, {"source_addresses", {"127.0.2.1"}}}}},
                     {"connections", 400},
                     // Slow enough that refusals keep arriving over several intervals.
                     {"connect_rate", 400},
                     {"max_in_flight", 16},
                     {"connect_timeout", "2s"},
                     {"ramp_timeout", "20s"},
                     {"hold", "1s"},
                     {"echo", {{"rounds", 1}, {"interval", "200ms"}, {"timeout", "2s"}}},
                     {"report_interval", "200ms"},
                     {"lease", "5s"}};
  const std::string plan_path = WritePlan(dir, "plan.json", plan.dump(2));
  const std::string report_path = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan_path, "--report=" + report_path},
                               dir, absl::Seconds(60));
  EXPECT_EQ(run.code, 1) << run.err << run.out;

  // One plain line per interval: "[   1.2s] phase    open N  established N/400 ...",
  // stamps 200 ms apart (give or take scheduling), never a terminal escape.
  EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << "escapes in non-terminal output:\n" << run.err;
  std::vector<double> stamps;
  for (absl::string_view line : absl::StrSplit(run.err, '\n')) {
    if (line.find("  established ") == absl::string_view::npos || line.size() < 10 || line[0] != '[')
      continue;
    EXPECT_NE(line.find("/400  failed "), absl::string_view::npos) << line;
    EXPECT_NE(line.find("echo verified "), absl::string_view::npos) << line;
    double t = 0;
    ASSERT_TRUE(absl::SimpleAtod(line.substr(1, line.find('s') - 1), &t)) << line;
    stamps.push_back(t);
  }
  // The ramp alone takes a second at 400/s; the hold another.
  ASSERT_GE(stamps.size(), 8u) << run.err;
  for (size_t i = 1; i < stamps.size(); ++i) EXPECT_GE(stamps[i], stamps[i - 1]) << run.err;
  EXPECT_LE((stamps.back() - stamps.front()) / static_cast<double>(stamps.size() - 1), 0.5) << run.err;
  EXPECT_CONTAINS(run.err, "] done     open 0  established 0/400  failed 400");

  // Each agent's ECONNREFUSED is announced once, with the hint, though
  // refusals kept coming for many intervals: on a line of its own ("agent A:
  // ECONNREFUSED -- ...") or with the other agent's when both began in the
  // same interval ("2 agents (A, B): ECONNREFUSED -- ...").
  for (const StartedAgent* agent : {&a, &b}) {
    size_t announced = 0;
    for (absl::string_view line : absl::StrSplit(run.err, '\n')) {
      if (line.find(": ECONNREFUSED -- nothing listening on the target port") == absl::string_view::npos)
        continue;
      if (line.find(agent->endpoint) != absl::string_view::npos) ++announced;
    }
    EXPECT_EQ(announced, 1u) << run.err;
  }

  // The summary: outcome, totals, the reason with its cause and fix,
  // latency percentiles and the per-agent table.
  EXPECT_CONTAINS(run.out, "outcome: FAIL");
  EXPECT_CONTAINS(run.out, "  - 400 of 400 connections not established");
  EXPECT_CONTAINS(run.out, "connections: 400 requested, 0 established, 400 failed, peak open 0");
  EXPECT_CONTAINS(run.out, "  ECONNREFUSED     400  -- nothing listening on the target port");
  EXPECT_CONTAINS(run.out, "latency (ms)      p50      p99    p99.9      max");
  EXPECT_CONTAINS(run.out, "requested  established  failed  echo verified  echo failed  failures\n");
  for (const StartedAgent* agent : {&a, &b}) {
    const size_t row = run.out.find("  " + agent->endpoint + "  ");
    ASSERT_NE(row, std::string::npos) << run.out;
    const std::string line = run.out.substr(row, run.out.find('\n', row) - row);
    EXPECT_CONTAINS(line, " done ");
    EXPECT_CONTAINS(line, "ECONNREFUSED 200");
  }
  EXPECT_CONTAINS(run.out, "report: " + report_path);

  for (StartedAgent* agent : {&a, &b}) {
    agent->process->Signal(SIGTERM);
    auto code = agent->process->Wait(absl::Seconds(15));
    EXPECT_TRUE(code.ok() && *code == 0) << agent->process->Describe();
  }
}

}  // namespace
}  // namespace fourtuple
