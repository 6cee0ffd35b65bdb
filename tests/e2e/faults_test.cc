// Faults during a real run (target-server, agents and coordinator on
// loopback), each proven by interrupting, killing or stopping a real process
// mid-hold: nothing is orphaned, nothing hangs, nobody else's results are
// lost.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/expect_contains.h"
#include "tests/support/holding_run.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::ChildrenOf;
using ::fourtuple::testing::HoldingRun;
using ::fourtuple::testing::HoldingRunOptions;
using ::fourtuple::testing::ReadFileOrEmpty;

// What a lost TCP peer may leave behind after the lease: the agent's own
// close bound and scheduling on a busy 2-core machine.
constexpr absl::Duration kGrace = absl::Seconds(3);

HoldingRunOptions Options(int agents) {
  HoldingRunOptions options;
  options.target_server_bin = TARGET_SERVER_BIN;
  options.agent_bin = AGENT_BIN;
  options.coordinator_bin = COORDINATOR_BIN;
  options.agents = agents;
  return options;
}

// A process that has exited: gone from /proc, or a zombie nobody reaped yet.
bool Exited(pid_t pid) {
  const std::string status = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  if (status.empty()) return true;
  const size_t paren = status.rfind(')');
  return paren != std::string::npos && paren + 2 < status.size() && status[paren + 2] == 'Z';
}

bool AllExitedWithin(const std::vector<pid_t>& pids, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool all = true;
    for (pid_t pid : pids) all = all && Exited(pid);
    if (all) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

// Runs the plan again (short hold) until it passes: the agents' previous run
// may still be releasing its slot for a moment after its connections closed,
// which the coordinator reports as a refusal (exit 3).
void ExpectANextRunPasses(HoldingRun& run) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<int> code = run.RunAgain(absl::StrCat("next-run-", attempt), "500ms", absl::Seconds(60));
    ASSERT_TRUE(code.ok()) << code.status() << run.Diagnostics();
    if (*code == 0) return;
    ASSERT_EQ(*code, 3) << run.Diagnostics();
    ASSERT_LT(absl::Now(), deadline) << "the agents kept refusing the next run\n" << run.Diagnostics();
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// Waits for the coordinator to exit 1 (the run finished and did not pass)
// with its report written; the report (discarded JSON when missing).
nlohmann::json FailedRunReport(HoldingRun& run, absl::Duration timeout) {
  absl::StatusOr<int> code = run.coordinator().Wait(timeout);
  EXPECT_TRUE(code.ok()) << code.status() << run.Diagnostics();
  EXPECT_EQ(code.value_or(-1), 1) << run.Diagnostics();
  nlohmann::json report = run.Report();
  EXPECT_FALSE(report.is_discarded()) << run.Diagnostics();
  if (!report.is_discarded()) {
    EXPECT_EQ(report.value("outcome", ""), "fail");
  }
  return report;
}

// SIGINT during the hold: the agents are told to close, the report is still
// written, and the run does not pass.
TEST(FaultsTest, InterruptClosesTheRunAndWritesTheReport) {
  HoldingRun run(Options(1));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  run.coordinator().Signal(SIGINT);
  nlohmann::json report = FailedRunReport(run, absl::Seconds(30));
  ASSERT_FALSE(report.is_discarded());
  EXPECT_CONTAINS(report["fail_reasons"].dump(), "interrupted");
  EXPECT_EQ(report["totals"]["established"], 2000);
  EXPECT_EQ(report["agents"][0]["state"], "done");  // it closed when told
  EXPECT_EQ(report["agents"][0]["open"], 0);
  EXPECT_CONTAINS(run.coordinator().ReadStdout(), "report: " + run.report_path());
  EXPECT_CONTAINS(run.coordinator().ReadStdout(), "html report: " + run.html_path());
  EXPECT_CONTAINS(testing::ReadFileOrEmpty(run.html_path()), "</html>");
  EXPECT_EQ(report["agents"][0]["host_facts"]["cores"], sysconf(_SC_NPROCESSORS_ONLN));
}

// An agent killed during the hold: marked lost with its last counts, the
// other agent finishes, exit 1.
TEST(FaultsTest, KilledAgentIsLostAndTheOtherFinishes) {
  HoldingRun run(Options(2));
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  run.agent(1).Signal(SIGKILL);
  nlohmann::json report = FailedRunReport(run, absl::Seconds(60));
  ASSERT_FALSE(report.is_discarded());
  ASSERT_EQ(report["agents"].size(), 2u);
  EXPECT_EQ(report["agents"][0]["state"], "done");
  EXPECT_EQ(report["agents"][0]["established"], 1000);
  EXPECT_EQ(report["agents"][0]["echo_verified"], 1000);
  EXPECT_EQ(report["agents"][1]["state"], "lost");
  EXPECT_EQ(report["agents"][1]["established"], 1000);  // its last known counts
  EXPECT_TRUE(report["agents"][1].contains("error"));
  EXPECT_EQ(report["totals"]["established"], 2000);
  EXPECT_CONTAINS(run.coordinator().ReadStdout(), "lost");
}
// The coordinator SIGKILLed during the hold: each agent closes all of the
// run's connections within the lease (plus a small grace), the target sees
// its open count fall to 0, and the agents take and finish the next run.
TEST(FaultsTest, KilledCoordinatorLeavesNoLoadAndAgentsTakeTheNextRun) {
  HoldingRunOptions options = Options(2);
  options.hold = "120s";  // only the kill ends this run
  options.lease = "2s";
  HoldingRun run(options);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  ASSERT_EQ(run.TargetOpen(), 2000u) << run.Diagnostics();

  run.coordinator().Signal(SIGKILL);
  std::optional<absl::Duration> closed = run.WaitForTargetOpen(0, absl::Seconds(2) + kGrace);
  ASSERT_TRUE(closed.has_value()) << "target still has " << run.TargetOpen().value_or(0)
                                  << " connections open\n"
                                  << run.Diagnostics();
  std::printf("target open count fell to 0 within %s of the coordinator's SIGKILL\n",
              absl::FormatDuration(*closed).c_str());
  EXPECT_TRUE(run.agent(0).running()) << run.Diagnostics();
  EXPECT_TRUE(run.agent(1).running()) << run.Diagnostics();
  ExpectANextRunPasses(run);
  EXPECT_EQ(run.TargetOpen(), 0u);
}

// The target-server SIGKILLed during the hold: the agents count every
// connection the kernel closed for it (peer_closed or ECONNRESET), the
// coordinator finishes in bounded time with exit 1 and writes the report.
TEST(FaultsTest, KilledTargetFailsTheRunWithClosedConnectionsCounted) {
  HoldingRunOptions options = Options(2);
  options.hold = "3s";
  HoldingRun run(options);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  run.target().Signal(SIGKILL);
  nlohmann::json report = FailedRunReport(run, absl::Seconds(60));
  ASSERT_FALSE(report.is_discarded());
  EXPECT_CONTAINS(report["fail_reasons"].dump(), "closed by the far side");
  ASSERT_EQ(report["agents"].size(), 2u);
  for (const nlohmann::json& agent : report["agents"]) {
    EXPECT_EQ(agent["state"], "done") << agent.dump();
    EXPECT_EQ(agent["established"], 1000) << agent.dump();
    EXPECT_EQ(agent["open"], 0) << agent.dump();
    EXPECT_EQ(agent["closed_by_peer"], 1000) << agent.dump();
    const uint64_t peer_closed = agent["failures"].value("peer_closed", uint64_t{0});
    const uint64_t reset = agent["failures"].value("ECONNRESET", uint64_t{0});
    EXPECT_EQ(peer_closed + reset, 1000u) << agent.dump();
  }
  EXPECT_CONTAINS(run.coordinator().ReadStdout(), "report: " + run.report_path());
}

// An agent SIGKILLed during the hold: the coordinator marks it lost within
// two report intervals, with its last known counts; its worker processes
// exit and their connections close; the other agent finishes.
TEST(FaultsTest, KilledAgentsWorkersExitAndItIsLostWithinTwoReportIntervals) {
  HoldingRunOptions options = Options(2);
  options.agent_processes = "2";
  options.report_interval = "1s";
  options.lease = "3s";
  options.hold = "6s";
  HoldingRun run(options);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  const std::vector<pid_t> workers = ChildrenOf(run.agent(1).pid());
  ASSERT_EQ(workers.size(), 2u) << run.Diagnostics();
  ASSERT_EQ(run.TargetOpen(), 2000u);

  const std::string lost_line = absl::StrCat("agent ", run.agent_endpoint(1), " lost");
  run.agent(1).Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  while (run.coordinator().ReadStderr().find(lost_line) == std::string::npos &&
         absl::Now() - killed < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const absl::Duration noticed = absl::Now() - killed;
  EXPECT_LE(noticed, absl::Seconds(2)) << run.Diagnostics();
  std::printf("coordinator marked the killed agent lost after %s\n", absl::FormatDuration(noticed).c_str());

  EXPECT_TRUE(AllExitedWithin(workers, absl::Seconds(5))) << "the dead agent's workers live on";
  // Only the surviving agent's connections remain.
  EXPECT_TRUE(run.WaitForTargetOpen(1000, absl::Seconds(5)).has_value())
      << run.TargetOpen().value_or(0) << run.Diagnostics();

  nlohmann::json report = FailedRunReport(run, absl::Seconds(60));
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["agents"][0]["state"], "done");
  EXPECT_EQ(report["agents"][0]["echo_verified"], 1000);
  EXPECT_EQ(report["agents"][1]["state"], "lost");
  EXPECT_EQ(report["agents"][1]["established"], 1000);  // its last known counts
  EXPECT_EQ(report["agents"][1]["echo_verified"], 1000);
  EXPECT_EQ(run.TargetOpen(), 0u);
}

// An agent stopped (SIGSTOP) during the hold: it answers nothing, but the
// coordinator keeps taking the other agent's reports, lets it finish, marks
// the stopped one lost and exits 1 with the report. Only the front is
// stopped: its workers, which hold the connections, see it fall silent and
// close them within its lease, while it is still stopped. Resumed, the
// stopped agent finds its run gone and takes the next run.
TEST(FaultsTest, StoppedAgentDoesNotBlockTheOthersAndItsLoadEndsWithTheLease) {
  HoldingRunOptions options = Options(2);
  options.report_interval = "200ms";
  options.lease = "1s";
  options.hold = "8s";
  HoldingRun run(options);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  ASSERT_EQ(run.TargetOpen(), 2000u);
  const std::vector<pid_t> workers = ChildrenOf(run.agent(1).pid());
  ASSERT_FALSE(workers.empty()) << run.Diagnostics();
  run.agent(1).Signal(SIGSTOP);  // the front only: its workers run on
  const absl::Time stopped = absl::Now();
  // The other agent still holds its 1,000 (the hold has seconds to go).
  std::optional<absl::Duration> dropped = run.WaitForTargetOpen(1000, absl::Seconds(1) + kGrace);
  EXPECT_TRUE(dropped.has_value()) << run.TargetOpen().value_or(0) << run.Diagnostics();
  if (dropped.has_value()) {
    std::printf("the stopped agent's connections closed %s after SIGSTOP\n",
                absl::FormatDuration(absl::Now() - stopped).c_str());
  }
  EXPECT_TRUE(AllExitedWithin(workers, absl::Seconds(2))) << "the stopped agent's workers live on";
  auto code = run.coordinator().Wait(absl::Seconds(60));
  const absl::Duration took = absl::Now() - stopped;
  // Before SIGCONT: nothing of the run is left on the target.
  EXPECT_EQ(run.TargetOpen(), 0u) << run.Diagnostics();
  run.agent(1).Signal(SIGCONT);
  ASSERT_TRUE(code.ok()) << code.status() << run.Diagnostics();
  EXPECT_EQ(*code, 1) << run.Diagnostics();
  // The hold's remainder plus the close: the stopped agent added nothing.
  EXPECT_LT(took, absl::Seconds(8) + absl::Seconds(5)) << run.Diagnostics();

  nlohmann::json report = run.Report();
  ASSERT_FALSE(report.is_discarded()) << run.Diagnostics();
  EXPECT_EQ(report["outcome"], "fail");
  EXPECT_EQ(report["agents"][0]["state"], "done");
  EXPECT_EQ(report["agents"][0]["established"], 1000);
  EXPECT_EQ(report["agents"][0]["echo_verified"], 1000);
  EXPECT_EQ(report["agents"][0]["open"], 0);
  EXPECT_EQ(report["agents"][1]["state"], "lost");
  EXPECT_CONTAINS(report["agents"][1].value("error", ""), "no report for");
  // The other agent's reports kept coming while this one was stopped: its
  // open count is in every timeline sample of the hold.
  int holding_samples = 0;
  for (const nlohmann::json& sample : report["timeline"]) {
    if (sample["agents_open"].is_array() && sample["agents_open"][0] == 1000) ++holding_samples;
  }
  EXPECT_GE(holding_samples, 10) << report["timeline"].dump();

  ExpectANextRunPasses(run);
}

}  // namespace
}  // namespace fourtuple
