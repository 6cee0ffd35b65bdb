// The load models with real processes on loopback: churn accounted for
// exactly against target-server's own counters, a target-server stopped
// (SIGTERM) and started again on the same ports under held connections,
// with reconnect (the run recovers and passes) and without (it fails with
// the drops counted), close "rst" and "fin" counted in TIME_WAIT with ss(8)
// inside a namespace of the test's own, and plan errors.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/coordinator_cli.h"
#include "tests/support/expect_contains.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::ScopedNetns;
using ::fourtuple::testing::StartAgent;
using ::fourtuple::testing::StartedAgent;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// A target-server, an agent (two workers) and the plan's common part, all
// on loopback (or inside `netns`).
class LoadModelRun {
 public:
  explicit LoadModelRun(const std::string& prefix, std::optional<std::string> netns = std::nullopt)
      : dir_(MakeTempDir(prefix)), netns_(std::move(netns)) {
    StartTarget("127.0.0.1:0", "127.0.0.1:0");
    agent_ = StartAgent({AGENT_BIN, "--processes=2"}, "agent", dir_, netns_);
  }
  ~LoadModelRun() {
    if (coordinator_ && coordinator_->running()) coordinator_->Signal(SIGTERM);
    if (agent_.process && agent_.process->running()) agent_.process->Signal(SIGTERM);
    if (target_ && target_->running()) target_->Signal(SIGTERM);
  }

  bool ok() const { return target_ != nullptr && agent_.process != nullptr && !listen_.empty(); }
  const std::string& dir() const { return dir_; }
  const std::string& listen() const { return listen_; }
  Subprocess& target() { return *target_; }
  Subprocess& coordinator() { return *coordinator_; }

  // (Re)starts target-server on `listen` and `control` ("ADDR:0": any port).
  void StartTarget(const std::string& listen, const std::string& control) {
    const std::string ready = absl::StrCat(dir_, "/target", ++target_lives_, ".ready");
    auto target = Subprocess::Start({TARGET_SERVER_BIN, "--listen=" + listen, "--processes=1",
                                     "--control=" + control, "--ready-file=" + ready},
                                    absl::StrCat("target", target_lives_), dir_, netns_);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::move(*target);
    auto ready_json = target_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(ready_json.ok()) << ready_json.status();
    listen_ = (*ready_json)["listen"][0].get<std::string>();
    control_ = (*ready_json)["control"].get<std::string>();
    stub_ = v1::TargetControl::NewStub(grpc::CreateChannel(control_, grpc::InsecureChannelCredentials()));
  }

  // SIGTERM, wait for the exit, start again on the same ports: the restart
  // a deployment does.
  void RestartTarget() {
    target_->Signal(SIGTERM);
    absl::StatusOr<int> code = target_->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    ASSERT_EQ(*code, 0) << target_->Describe();
    StartTarget(listen_, control_);
  }

  // The target's final counters line (printed when it stops).
  json StopTargetAndReadFinalCounters() {
    target_->Signal(SIGTERM);
    EXPECT_TRUE(target_->Wait(absl::Seconds(20)).ok());
    json last;
    for (absl::string_view line : absl::StrSplit(target_->ReadStdout(), '\n')) {
      json parsed = json::parse(line, nullptr, false);
      if (!parsed.is_discarded() && parsed.value("final", false)) last = parsed;
    }
    return last;
  }

  std::optional<uint64_t> TargetOpen() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::TargetStats stats;
    if (!stub_->GetStats(&context, v1::GetStatsRequest(), &stats).ok()) return std::nullopt;
    return stats.total().open();
  }
  bool WaitForTargetOpen(uint64_t open, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (TargetOpen() == open) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // The plan with `extra` fields ("\"churn\": {...},") added.
  std::string Plan(uint64_t connections, const std::string& hold, const std::string& extra,
                   const std::string& echo = R"({"rounds": 1})") const {
    return testing::WritePlan(
        dir_, "plan.json",
        absl::StrCat(R"({
  "target": {"endpoints": [")",
                     listen_, R"("], "control": ")", control_, R"("},
  "agents": [{"endpoint": ")",
                     agent_.endpoint, R"(", "source_addresses": ["127.0.1.1-127.0.1.4"]}],
  "connections": )",
                     connections, R"(,
  "connect_rate": 5000,
  "hold": ")",
                     hold, R"(",
  "echo": )",
                     echo, R"(,
  "report_interval": "200ms",
  "lease": "3s",
  )",
                     extra, R"(
  "max_in_flight": 256
})"));
  }

  void StartCoordinator(const std::string& plan) {
    auto coordinator =
        Subprocess::Start({COORDINATOR_BIN, "run", "--plan=" + plan, "--report=" + dir_ + "/report.json"},
                          "coordinator", dir_, netns_);
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    coordinator_ = std::move(*coordinator);
  }
  int WaitForCoordinator(absl::Duration timeout) {
    absl::StatusOr<int> code = coordinator_->Wait(timeout);
    EXPECT_TRUE(code.ok()) << code.status() << Diagnostics();
    return code.value_or(-1);
  }
  json Report() const { return json::parse(ReadFileOrEmpty(dir_ + "/report.json"), nullptr, false); }

  std::string Diagnostics() const {
    std::string out;
    if (coordinator_) out += coordinator_->Describe() + "\n" + coordinator_->ReadStdout() + "\n";
    if (agent_.process) out += agent_.process->Describe() + "\n";
    if (target_) out += target_->Describe() + "\n";
    return out;
  }

 private:
  const std::string dir_;
  const std::optional<std::string> netns_;
  int target_lives_ = 0;
  std::unique_ptr<Subprocess> target_;
  std::string listen_, control_;
  std::unique_ptr<v1::TargetControl::Stub> stub_;
  StartedAgent agent_;
  std::unique_ptr<Subprocess> coordinator_;
};

uint64_t Sum(const json& object) {
  uint64_t sum = 0;
  if (object.is_object()) {
    for (const auto& item : object.items()) sum += item.value().get<uint64_t>();
  }
  return sum;
}

// Churn during the hold: every close reopened, and the target accepted
// exactly the plan's connections plus the churned ones.
TEST(ChurnTest, ChurnIsAccountedForExactlyByTheTargetsCounters) {
  LoadModelRun run("ft-churn");
  ASSERT_TRUE(run.ok());
  run.StartCoordinator(run.Plan(1000, "4s", R"("churn": {"rate": 300, "duration": "2s"},)"));
  ASSERT_EQ(run.WaitForCoordinator(absl::Seconds(60)), 0) << run.Diagnostics();
  const json report = run.Report();
  ASSERT_FALSE(report.is_discarded());
  const uint64_t churned = report["totals"]["churned"].get<uint64_t>();
  // 300/s for 2 s, less what the loop's pacing rounds off.
  EXPECT_GE(churned, 500u) << report["totals"].dump();
  EXPECT_LE(churned, 620u) << report["totals"].dump();
  EXPECT_EQ(report["totals"]["established"], 1000);
  EXPECT_EQ(report["totals"]["open_at_end"], 1000);
  EXPECT_EQ(report["totals"]["reconnected"], 0);
  EXPECT_EQ(report["recovery"]["drops"], 0);
  // The timeline shows the churn as it went.
  uint64_t seen_midway = 0;
  for (const json& sample : report["timeline"]) {
    const uint64_t c = sample.value("churned", uint64_t{0});
    if (c > 0 && c < churned) seen_midway = c;
  }
  EXPECT_GT(seen_midway, 0u) << report["timeline"].dump();

  const json final_counters = run.StopTargetAndReadFinalCounters();
  ASSERT_TRUE(final_counters.is_object()) << run.target().ReadStdout();
  EXPECT_EQ(final_counters["accepted"].get<uint64_t>(), 1000 + churned) << final_counters.dump();
  EXPECT_EQ(report["target"]["accepted"].get<uint64_t>(), 1000 + churned);
}

// target-server stopped and started again on the same ports while the
// agent holds its connections: with reconnect every connection comes back,
// the run passes and the recovery is reported.
TEST(ChurnTest, TargetRestartWithReconnectRecoversEveryConnection) {
  LoadModelRun run("ft-reconnect");
  ASSERT_TRUE(run.ok());
  run.StartCoordinator(run.Plan(
      1000, "5s", R"("reconnect": {"initial_backoff": "50ms", "max_backoff": "400ms", "max_attempts": 0},)",
      R"({"rounds": 2, "interval": "2s"})"));
  ASSERT_TRUE(run.WaitForTargetOpen(1000, absl::Seconds(30))) << run.Diagnostics();
  // A few report intervals, so the coordinator's polls see the first life's
  // whole count (a life's accepts after its last answered poll are not summed).
  absl::SleepFor(absl::Milliseconds(700));
  run.RestartTarget();
  ASSERT_EQ(run.WaitForCoordinator(absl::Seconds(60)), 0) << run.Diagnostics();
  const json report = run.Report();
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["reconnected"], 1000) << report["totals"].dump();
  EXPECT_EQ(report["totals"]["open_at_end"], 1000);
  EXPECT_EQ(report["recovery"]["drops"], 1000);
  const json& seconds = report["recovery"]["seconds_to_recover"];
  EXPECT_GT(seconds["max"].get<double>(), 0.0);
  EXPECT_LE(seconds["p50"].get<double>(), seconds["p99"].get<double>());
  EXPECT_LE(seconds["p99"].get<double>(), seconds["max"].get<double>() + 0.001);
  EXPECT_GE(report["recovery"]["seconds_to_all_open"].get<double>(), seconds["max"].get<double>() - 0.01);
  EXPECT_EQ(Sum(report["reconnect_failures"]), 0u);
  // The control endpoint went away and came back: reported, not fatal,
  // and the accepted counts of both lives add up.
  EXPECT_EQ(report["target"]["restarts"], 1) << report["target"].dump();
  EXPECT_EQ(report["target"]["accepted"], 2000) << report["target"].dump();
  EXPECT_CONTAINS(run.coordinator().ReadStderr(), "reconnected");
}

// The same restart without reconnect: the run fails, with every drop
// counted as peer_closed or ECONNRESET.
TEST(ChurnTest, TargetRestartWithoutReconnectFails) {
  LoadModelRun run("ft-noreconnect");
  ASSERT_TRUE(run.ok());
  run.StartCoordinator(run.Plan(1000, "3s", ""));
  ASSERT_TRUE(run.WaitForTargetOpen(1000, absl::Seconds(30))) << run.Diagnostics();
  run.RestartTarget();
  ASSERT_EQ(run.WaitForCoordinator(absl::Seconds(60)), 1) << run.Diagnostics();
  const json report = run.Report();
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["outcome"], "fail");
  const json& failures = report["failures"];
  EXPECT_EQ(failures.value("peer_closed", uint64_t{0}) + failures.value("ECONNRESET", uint64_t{0}), 1000u)
      << failures.dump();
  EXPECT_EQ(report["agents"][0]["closed_by_peer"], 1000);
  EXPECT_CONTAINS(report["fail_reasons"].dump(), "closed by the far side");
}

// TIME_WAIT entries toward `port` in `netns` (the agents' side of each
// connection: the destination port is the target's).
int TimeWaitToward(const ScopedNetns& netns, const std::string& dir, const std::string& port) {
  const std::string out = dir + "/ss.out";
  netns.Exec(absl::StrCat("ss -Htan state time-wait dport = :", port, " > ", out));
  int count = 0;
  for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(out), '\n')) count += !line.empty();
  return count;
}

// close "rst" leaves no TIME_WAIT; "fin" leaves one per connection on the
// agent's side. In a namespace of the test's own, so nothing else counts.
TEST(ChurnTest, CloseRstLeavesNoTimeWaitAndFinLeavesOnePerConnection) {
  if (!testing::CanCreateNetns()) GTEST_SKIP() << "cannot create a network namespace here (needs root)";
  for (const std::string mode : {"rst", "fin"}) {
    auto ns = ScopedNetns::Create("ft-close");
    ASSERT_TRUE(ns.ok()) << ns.status();
    LoadModelRun run("ft-close-" + mode, (*ns)->name());
    ASSERT_TRUE(run.ok());
    run.StartCoordinator(run.Plan(500, "300ms", absl::StrCat(R"("close": ")", mode, R"(",)")));
    ASSERT_EQ(run.WaitForCoordinator(absl::Seconds(60)), 0) << run.Diagnostics();
    const std::string port = run.listen().substr(run.listen().rfind(':') + 1);
    const int time_wait = TimeWaitToward(**ns, run.dir(), port);
    if (mode == "rst") {
      EXPECT_EQ(time_wait, 0);
    } else {
      EXPECT_EQ(time_wait, 500);
    }
    EXPECT_EQ(run.Report()["plan"]["close"], mode);
  }
}

// Bad load-model input: exit 2, naming the field.
TEST(ChurnTest, PlanErrorsNameTheField) {
  const std::string dir = MakeTempDir("ft-churn-plan");
  struct Case {
    std::string extra;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"("churn": {"rate": 9000, "duration": "10s"})", "plan.churn.rate"},
      {R"("churn": {"rate": 10, "duration": "0s"})", "plan.churn.duration"},
      {R"("churn": {"rate": 10, "duration": "-5s"})", "plan.churn.duration"},
      {R"("churn": {"rate": -1, "duration": "5s"})", "plan.churn.rate"},
      {R"("reconnect": {"initial_backoff": "2s", "max_backoff": "1s"})", "plan.reconnect.max_backoff"},
      {R"("reconnect": {"initial_backoff": "0s"})", "plan.reconnect.initial_backoff"},
      {R"("close": "gentle")", "plan.close"},
  };
  for (const Case& c : cases) {
    const std::string plan = testing::WritePlan(dir, "plan.json",
                                                absl::StrCat(R"({
  "target": {"endpoints": ["127.0.0.1:9"]},
  "agents": [{"endpoint": "127.0.0.1:7", "source_addresses": ["127.0.0.1"]}],
  "connections": 10, "connect_rate": 5000, )",
                                                             c.extra, "}"));
    const testing::Outcome outcome = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan}, dir);
    EXPECT_EQ(outcome.code, 2) << c.extra << "\n" << outcome.err;
    EXPECT_CONTAINS(outcome.err, c.field);
  }
}

}  // namespace
}  // namespace fourtuple
