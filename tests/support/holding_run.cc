#include "tests/support/holding_run.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/coordinator_cli.h"

namespace fourtuple::testing {

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

HoldingRun::HoldingRun(HoldingRunOptions options)
    : options_(std::move(options)), dir_(MakeTempDir("ft-holding-run")) {
  const std::string target_ready = dir_ + "/target.ready";
  auto target = Subprocess::Start({options_.target_server_bin, "--listen=127.0.0.1:0", "--processes=1",
                                   "--control=127.0.0.1:0", "--ready-file=" + target_ready},
                                  "target-server", dir_);
  EXPECT_TRUE(target.ok()) << target.status();
  if (!target.ok()) return;
  target_ = std::move(*target);
  auto target_json = target_->WaitForReadyFile(target_ready, kStartTimeout);
  EXPECT_TRUE(target_json.ok()) << target_json.status();
  if (!target_json.ok()) return;
  target_listen_ = (*target_json)["listen"][0].get<std::string>();
  target_control_ = (*target_json)["control"].get<std::string>();
  target_stub_ =
      v1::TargetControl::NewStub(grpc::CreateChannel(target_control_, grpc::InsecureChannelCredentials()));

  for (int i = 1; i <= options_.agents; ++i) {
    const std::string ready = absl::StrCat(dir_, "/agent", i, ".ready");
    auto agent = Subprocess::Start({options_.agent_bin, "--listen=127.0.0.1:0", "--ready-file=" + ready,
                                    "--processes=" + options_.agent_processes},
                                   absl::StrCat("agent", i), dir_);
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) return;
    agents_.push_back(std::move(*agent));
    auto agent_json = agents_.back()->WaitForReadyFile(ready, kStartTimeout);
    EXPECT_TRUE(agent_json.ok()) << agent_json.status();
    if (!agent_json.ok()) return;
    agent_endpoints_.push_back((*agent_json)["listen"][0].get<std::string>());
  }
  plan_path_ = WritePlan("plan.json", options_.hold);
  ok_ = true;
}

HoldingRun::~HoldingRun() {
  if (coordinator_ && coordinator_->running()) coordinator_->Signal(SIGTERM);
  for (auto& agent : agents_) {
    if (agent->running()) agent->Signal(SIGTERM);
  }
  if (target_ && target_->running()) target_->Signal(SIGTERM);
}

std::string HoldingRun::WritePlan(const std::string& name, const std::string& hold) const {
  std::string agents_json;
  for (size_t i = 0; i < agent_endpoints_.size(); ++i) {
    const size_t n = i + 1;
    absl::StrAppend(&agents_json, i > 0 ? ", " : "", R"({"endpoint": ")", agent_endpoints_[i],
                    R"(", "source_addresses": ["127.0.)", n, ".1-127.0.", n, R"(.4"]})");
  }
  const std::string text = absl::StrCat(R"({
  "target": {"endpoints": [")",
                                        target_listen_, R"("], "control": ")", target_control_, R"("},
  "agents": [)",
                                        agents_json, R"(],
  "connections": )",
                                        options_.connections, R"(,
  "hold": ")",
                                        hold, R"(",
  "report_interval": ")",
                                        options_.report_interval, R"(",
  "lease": ")",
                                        options_.lease, R"("
})");
  return testing::WritePlan(dir_, name, text);
}

bool HoldingRun::StartAndWaitForHold() {
  report_path_ = dir_ + "/report.json";
  auto coordinator = Subprocess::Start({options_.coordinator_bin, "run", "--plan=" + plan_path_,
                                        "--report=" + report_path_, "--html=" + html_path()},
                                       "coordinator", dir_);
  EXPECT_TRUE(coordinator.ok()) << coordinator.status();
  if (!coordinator.ok()) return false;
  coordinator_ = std::move(*coordinator);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && coordinator_->running()) {
    if (coordinator_->ReadStderr().find("] hold") != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << "the run never reached the hold\n" << Diagnostics();
  return false;
}

absl::StatusOr<int> HoldingRun::RunAgain(const std::string& name, const std::string& hold,
                                         absl::Duration timeout) {
  const std::string plan = WritePlan(name + "-plan.json", hold);
  auto coordinator = Subprocess::Start(
      {options_.coordinator_bin, "run", "--plan=" + plan, "--report=" + dir_ + "/" + name + ".json"}, name,
      dir_);
  if (!coordinator.ok()) return coordinator.status();
  absl::StatusOr<int> code = (*coordinator)->Wait(timeout);
  if (!code.ok() || *code != 0) {
    ADD_FAILURE() << name << ": " << (*coordinator)->Describe() << "\n" << (*coordinator)->ReadStdout();
  }
  return code;
}

nlohmann::json HoldingRun::Report() const {
  return nlohmann::json::parse(ReadFileOrEmpty(report_path_), nullptr, false);
}

std::optional<uint64_t> HoldingRun::TargetOpen() {
  if (!target_stub_) return std::nullopt;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::TargetStats stats;
  if (!target_stub_->GetStats(&context, v1::GetStatsRequest(), &stats).ok()) return std::nullopt;
  return stats.total().open();
}

std::optional<absl::Duration> HoldingRun::WaitForTargetOpen(uint64_t open, absl::Duration timeout) {
  const absl::Time start = absl::Now();
  while (true) {
    if (TargetOpen() == open) return absl::Now() - start;
    if (absl::Now() - start > timeout) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string HoldingRun::Diagnostics() const {
  std::string out;
  if (coordinator_) out += coordinator_->Describe() + "\n" + coordinator_->ReadStdout() + "\n";
  for (const auto& agent : agents_) out += agent->Describe() + "\n";
  if (target_) out += target_->Describe() + "\n";
  return out;
}

}  // namespace fourtuple::testing
