// The coordinator binary on its own: exit codes and messages for bad command
// lines, bad plans and agents that cannot be reached, and `probe` against a
// real agent.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Subprocess;

// gmock is not linked into e2e tests: a plain substring check.
#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find: " << (needle) << "\nin:\n"             \
      << (haystack)

#ifdef COORDINATOR_BIN

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

Outcome RunCoordinator(const std::vector<std::string>& args, const std::string& dir,
                       absl::Duration timeout = absl::Seconds(30)) {
  std::vector<std::string> argv = {COORDINATOR_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome outcome;
  auto process = Subprocess::Start(argv, "coordinator", dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return outcome;
  auto code = (*process)->Wait(timeout);
  EXPECT_TRUE(code.ok()) << code.status() << "\n" << (*process)->Describe();
  outcome.code = code.ok() ? *code : -1;
  outcome.out = (*process)->ReadStdout();
  outcome.err = (*process)->ReadStderr();
  return outcome;
}

std::string WritePlan(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  FILE* file = std::fopen(path.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
  return path;
}

// A loopback port nothing listens on (bound, then closed).
std::string ClosedEndpoint() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

std::string PlanWithAgent(const std::string& agent) {
  return absl::StrCat(R"({
  "target": {"endpoints": ["127.0.0.1:9"]},
  "agents": [{"endpoint": ")",
                      agent, R"(", "source_addresses": ["127.0.1.1-127.0.1.4"]}],
  "connections": 100,
  "hold": "1s"
})");
}

TEST(CoordinatorCliTest, BadCommandLinesExit2WithUsage) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "no command given"},
           {{"fly"}, "unknown command \"fly\""},
           {{"run"}, "missing required flag --plan"},
           {{"run", "--plan=x.json", "--bogus=1"}, "unknown flag --bogus"},
           {{"probe"}, "missing required flag --agents"},
       }) {
    Outcome outcome = RunCoordinator(args, dir);
    EXPECT_EQ(outcome.code, 2) << outcome.err;
    EXPECT_CONTAINS(outcome.err, message);
    EXPECT_CONTAINS(outcome.err, "usage:");
  }
}

TEST(CoordinatorCliTest, BadPlansExit2NamingTheField) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\n  \"connections\": 10,\n  \"agents\": [", "invalid JSON at line 3, column 14"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "conections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.conections: unknown field (did you mean \"connections\"?)"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]},
                     {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.1.300"]}]})",
       "plan.agents[1].source_addresses[0]: \"127.0.1.300\" is not an IPv4 or IPv6 address"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": -5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.connections: expected a whole number from 1"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "echo": {"payload_bytes": 8},
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.echo.payload_bytes: expected a whole number from 16"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"],
                      "connections": 6}]})",
       "plan.agents[0].connections: 6 is more than the plan's total connections (5)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = WritePlan(dir, absl::StrCat("plan", i, ".json"), cases[i].text);
    Outcome outcome = RunCoordinator({"run", "--plan=" + path}, dir);
    EXPECT_EQ(outcome.code, 2) << outcome.err;
    EXPECT_CONTAINS(outcome.err, path + ": " + cases[i].message);
  }
  Outcome missing = RunCoordinator({"run", "--plan=" + dir + "/nope.json"}, dir);
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, "nope.json");
}

TEST(CoordinatorCliTest, UnreachableAgentExits3NamingIt) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string agent = ClosedEndpoint();
  const std::string path = WritePlan(dir, "plan.json", PlanWithAgent(agent));
  const std::string report = dir + "/report.json";
  Outcome outcome = RunCoordinator({"run", "--plan=" + path, "--report=" + report}, dir);
  EXPECT_EQ(outcome.code, 3) << outcome.err;
  EXPECT_CONTAINS(outcome.err, "agent " + agent + " is unreachable");
  EXPECT_NE(access(report.c_str(), F_OK), 0) << "no run, so no report";

  Outcome preflight = RunCoordinator({"preflight", "--plan=" + path}, dir);
  EXPECT_EQ(preflight.code, 3) << preflight.err;
  EXPECT_CONTAINS(preflight.err, "agent " + agent + " is unreachable");

  Outcome probe = RunCoordinator({"probe", "--agents=" + agent}, dir);
  EXPECT_EQ(probe.code, 3);
  EXPECT_CONTAINS(probe.out, "unreachable");
}

#ifdef AGENT_BIN
// Against a real agent: probe prints its facts, preflight its capacity, and
// a plan over its capacity is refused (exit 3) unless forced.
TEST(CoordinatorCliTest, ProbeAndPreflightAgainstARealAgent) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string ready = dir + "/agent.ready";
  auto agent = Subprocess::Start(
      {AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready, "--processes=1"}, "agent", dir);
  ASSERT_TRUE(agent.ok()) << agent.status();
  auto ready_json = (*agent)->WaitForReadyFile(ready, absl::Seconds(20));
  ASSERT_TRUE(ready_json.ok()) << ready_json.status() << (*agent)->Describe();
  const std::string endpoint = (*ready_json)["listen"][0].get<std::string>();

  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  Outcome probe = RunCoordinator({"probe", "--agents=" + endpoint}, dir);
  EXPECT_EQ(probe.code, 0) << probe.err;
  EXPECT_CONTAINS(probe.out, endpoint);
  EXPECT_CONTAINS(probe.out, hostname);
  EXPECT_CONTAINS(probe.out, "nofile soft/hard");
  EXPECT_CONTAINS(probe.out, "127.0.0.1");  // among its local addresses

  // One worker process holds at most the fd budget (under 20,000 here):
  // 50,000 connections cannot fit, and the fix names --processes.
  rlimit limit = {};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max >= 40000) {
    (*agent)->Signal(SIGTERM);
    GTEST_SKIP() << "RLIMIT_NOFILE is " << limit.rlim_max << ": one process could hold the plan";
  }
  std::string plan = PlanWithAgent(endpoint);
  plan.replace(plan.find("\"connections\": 100"), 18, "\"connections\": 50000");
  const std::string path = WritePlan(dir, "big.json", plan);
  Outcome preflight = RunCoordinator({"preflight", "--plan=" + path}, dir);
  EXPECT_EQ(preflight.code, 3) << preflight.out << preflight.err;
  EXPECT_CONTAINS(preflight.out, "fds (over by");
  EXPECT_CONTAINS(preflight.err, "--processes=");
  Outcome run = RunCoordinator({"run", "--plan=" + path}, dir);
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, "--force");

  (*agent)->Signal(SIGTERM);
  auto code = (*agent)->Wait(absl::Seconds(15));
  EXPECT_TRUE(code.ok() && *code == 0) << (*agent)->Describe();
}
#endif  // AGENT_BIN

#if defined(AGENT_BIN) && defined(TARGET_SERVER_BIN)
// A target-server and agents on loopback, and a coordinator running a plan
// with a long hold, for tests that act on the run while it holds.
class HoldingRun {
 public:
  explicit HoldingRun(int agents) : dir_(MakeTempDir("ft-coordinator-hold")) {
    const std::string target_ready = dir_ + "/target.ready";
    auto target = Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1",
                                     "--control=127.0.0.1:0", "--ready-file=" + target_ready},
                                    "target-server", dir_);
    EXPECT_TRUE(target.ok()) << target.status();
    if (!target.ok()) return;
    target_ = std::move(*target);
    auto target_json = target_->WaitForReadyFile(target_ready, absl::Seconds(20));
    EXPECT_TRUE(target_json.ok()) << target_json.status();
    if (!target_json.ok()) return;
    std::string agents_json;
    for (int i = 1; i <= agents; ++i) {
      const std::string ready = absl::StrCat(dir_, "/agent", i, ".ready");
      auto agent = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready},
                                     absl::StrCat("agent", i), dir_);
      EXPECT_TRUE(agent.ok()) << agent.status();
      if (!agent.ok()) return;
      agents_.push_back(std::move(*agent));
      auto agent_json = agents_.back()->WaitForReadyFile(ready, absl::Seconds(20));
      EXPECT_TRUE(agent_json.ok()) << agent_json.status();
      if (!agent_json.ok()) return;
      absl::StrAppend(&agents_json, i > 1 ? ", " : "", R"({"endpoint": ")",
                      (*agent_json)["listen"][0].get<std::string>(), R"(", "source_addresses": ["127.0.)", i,
                      ".1-127.0.", i, R"(.4"]})");
    }
    plan_path_ = WritePlan(dir_, "plan.json",
                           absl::StrCat(R"({
      "target": {"endpoints": [")",
                                        (*target_json)["listen"][0].get<std::string>(), R"("], "control": ")",
                                        (*target_json)["control"].get<std::string>(),
                                        R"("},
      "agents": [)",
                                        agents_json, R"(],
      "connections": 2000,
      "hold": "8s",
      "report_interval": "200ms",
      "lease": "2s"
    })"));
    ok_ = true;
  }

  ~HoldingRun() {
    for (auto& agent : agents_) agent->Signal(SIGTERM);
    if (target_) target_->Signal(SIGTERM);
  }

  bool ok() const { return ok_; }
  Subprocess& agent(int i) { return *agents_[i]; }
  const std::string& report_path() const { return report_path_; }
  std::string html_path() const { return dir_ + "/report.html"; }

  // Starts the coordinator and waits until its progress shows the hold.
  bool StartAndWaitForHold() {
    report_path_ = dir_ + "/report.json";
    auto coordinator = Subprocess::Start(
        {COORDINATOR_BIN, "run", "--plan=" + plan_path_, "--report=" + report_path_, "--html=" + html_path()},
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

  Subprocess& coordinator() { return *coordinator_; }

  nlohmann::json Report() const {
    return nlohmann::json::parse(testing::ReadFileOrEmpty(report_path_), nullptr, false);
  }

  std::string Diagnostics() const {
    std::string out;
    if (coordinator_) out += coordinator_->Describe() + "\n" + coordinator_->ReadStdout() + "\n";
    for (const auto& agent : agents_) out += agent->Describe() + "\n";
    return out;
  }

 private:
  std::string dir_;
  std::string plan_path_;
  std::string report_path_;
  bool ok_ = false;
  std::unique_ptr<Subprocess> target_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
  std::unique_ptr<Subprocess> coordinator_;
};

// SIGINT during the hold: the agents are told to close, the report is still
// written, and the run does not pass.
TEST(CoordinatorCliTest, InterruptClosesTheRunAndWritesTheReport) {
  HoldingRun run(1);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  run.coordinator().Signal(SIGINT);
  auto code = run.coordinator().Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status() << run.Diagnostics();
  EXPECT_EQ(*code, 1) << run.Diagnostics();
  nlohmann::json report = run.Report();
  ASSERT_FALSE(report.is_discarded()) << run.Diagnostics();
  EXPECT_EQ(report["outcome"], "fail");
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
TEST(CoordinatorCliTest, KilledAgentIsLostAndTheOtherFinishes) {
  HoldingRun run(2);
  ASSERT_TRUE(run.ok());
  ASSERT_TRUE(run.StartAndWaitForHold());
  run.agent(1).Signal(SIGKILL);
  auto code = run.coordinator().Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status() << run.Diagnostics();
  EXPECT_EQ(*code, 1) << run.Diagnostics();
  nlohmann::json report = run.Report();
  ASSERT_FALSE(report.is_discarded()) << run.Diagnostics();
  EXPECT_EQ(report["outcome"], "fail");
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
#endif  // AGENT_BIN && TARGET_SERVER_BIN

#else
TEST(CoordinatorCliTest, Skipped) { GTEST_SKIP() << "coordinator not built"; }
#endif  // COORDINATOR_BIN

}  // namespace
}  // namespace fourtuple
