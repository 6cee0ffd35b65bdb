// Sixty real agents (one worker process each) under one coordinator: the run
// passes, the coordinator's output stays aggregated (one "ready" line, a
// status that does not grow with the agent count, a summary that lists the
// agents furthest behind), and unreachable agents are all named at once.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

constexpr int kAgents = 60;  // past the page's 50 rows, so it shows the distribution
constexpr int kConnectionsPerAgent = 40;
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// The agents and target-server, started once for the suite.
class ManyAgentsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("ft-many-agents"));
    target_ = new std::unique_ptr<Subprocess>();
    agents_ = new std::vector<std::unique_ptr<Subprocess>>();
    endpoints_ = new std::vector<std::string>();
    const std::string target_ready = *dir_ + "/target.ready";
    auto target = Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2",
                                     "--control=127.0.0.1:0", "--ready-file=" + target_ready},
                                    "target-server", *dir_);
    ASSERT_TRUE(target.ok()) << target.status();
    *target_ = std::move(*target);
    auto ready = (*target_)->WaitForReadyFile(target_ready, kStartTimeout);
    ASSERT_TRUE(ready.ok()) << ready.status();
    target_listen_ = new std::string((*ready)["listen"][0].get<std::string>());
    target_control_ = new std::string((*ready)["control"].get<std::string>());
    // All at once, then wait for each: as a lab's agents start.
    for (int i = 0; i < kAgents; ++i) {
      auto agent = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--processes=1",
                                      absl::StrCat("--ready-file=", *dir_, "/agent", i, ".ready")},
                                     absl::StrCat("agent", i), *dir_);
      ASSERT_TRUE(agent.ok()) << agent.status();
      agents_->push_back(std::move(*agent));
    }
    for (int i = 0; i < kAgents; ++i) {
      auto agent_ready =
          (*agents_)[i]->WaitForReadyFile(absl::StrCat(*dir_, "/agent", i, ".ready"), kStartTimeout);
      ASSERT_TRUE(agent_ready.ok()) << agent_ready.status();
      endpoints_->push_back((*agent_ready)["listen"][0].get<std::string>());
    }
  }

  static void TearDownTestSuite() {
    for (auto& agent : *agents_) agent->Signal(SIGTERM);
    if (*target_) (*target_)->Signal(SIGTERM);
    for (auto& agent : *agents_) (void)agent->Wait(absl::Seconds(15));
    if (*target_) (void)(*target_)->Wait(absl::Seconds(15));
  }

  void SetUp() override {
    ASSERT_EQ(endpoints_->size(), static_cast<size_t>(kAgents)) << "the agents did not all start";
  }

  static json Plan(const std::vector<std::string>& endpoints) {
    json agents = json::array();
    for (size_t i = 0; i < endpoints.size(); ++i) {
      agents.push_back({{"endpoint", endpoints[i]},
                        {"source_addresses", {absl::StrCat("127.0.", 100 + i / 250, ".", i % 250 + 1)}}});
    }
    return json{{"target", {{"endpoints", {*target_listen_}}, {"control", *target_control_}}},
                {"agents", agents},
                {"connections", kConnectionsPerAgent * endpoints.size()},
                {"connect_rate", 0},
                {"max_in_flight", 2048},
                {"connect_timeout", "10s"},
                {"ramp_timeout", "60s"},
                {"hold", "1s"},
                {"echo", {{"rounds", 1}, {"payload_bytes", 16}, {"interval", "500ms"}, {"timeout", "10s"}}},
                {"report_interval", "250ms"},
                {"lease", "10s"}};
  }

  // Runs the coordinator over `plan`; returns its exit code.
  static int RunCoordinator(const json& plan, const std::string& name, std::unique_ptr<Subprocess>* out) {
    const std::string path = absl::StrCat(*dir_, "/", name, ".json");
    FILE* f = std::fopen(path.c_str(), "w");
    const std::string text = plan.dump(1);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    auto p = Subprocess::Start({COORDINATOR_BIN, "run", "--plan=" + path,
                                absl::StrCat("--report=", *dir_, "/", name, ".report.json"),
                                absl::StrCat("--html=", *dir_, "/", name, ".html")},
                               name, *dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    *out = std::move(*p);
    auto code = (*out)->Wait(absl::Seconds(120));
    EXPECT_TRUE(code.ok()) << code.status();
    return code.ok() ? *code : -1;
  }

  static std::string* dir_;
  static std::unique_ptr<Subprocess>* target_;
  static std::vector<std::unique_ptr<Subprocess>>* agents_;
  static std::vector<std::string>* endpoints_;
  static std::string* target_listen_;
  static std::string* target_control_;
};

std::string* ManyAgentsTest::dir_ = nullptr;
std::unique_ptr<Subprocess>* ManyAgentsTest::target_ = nullptr;
std::vector<std::unique_ptr<Subprocess>>* ManyAgentsTest::agents_ = nullptr;
std::vector<std::string>* ManyAgentsTest::endpoints_ = nullptr;
std::string* ManyAgentsTest::target_listen_ = nullptr;
std::string* ManyAgentsTest::target_control_ = nullptr;

TEST_F(ManyAgentsTest, SixtyAgentsPassWithAggregatedOutput) {
  std::unique_ptr<Subprocess> coordinator;
  const absl::Time start = absl::Now();
  const int code = RunCoordinator(Plan(*endpoints_), "run", &coordinator);
  const std::string err = coordinator->ReadStderr();
  const std::string out = coordinator->ReadStdout();
  ASSERT_EQ(code, 0) << err << out;
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));

  const json report = json::parse(ReadFileOrEmpty(*dir_ + "/run.report.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["established"], kAgents * kConnectionsPerAgent);
  ASSERT_EQ(report["agents"].size(), static_cast<size_t>(kAgents));
  for (const json& agent : report["agents"]) EXPECT_EQ(agent["state"], "done") << agent.dump();

  // One line says every agent is ready, and one the barrier; none per agent.
  EXPECT_TRUE(absl::StrContains(err, absl::StrCat(kAgents, " agents ready after"))) << err;
  EXPECT_TRUE(absl::StrContains(err, absl::StrCat(kAgents, " agents connected"))) << err;
  for (const std::string& endpoint : *endpoints_) EXPECT_FALSE(absl::StrContains(err, endpoint)) << err;

  // The summary lists the agents furthest behind, not all fifty.
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("(20 of ", kAgents, " agents"))) << out;
  size_t rows = 0;
  for (const std::string& endpoint : *endpoints_) rows += absl::StrContains(out, endpoint + " ") ? 1 : 0;
  EXPECT_EQ(rows, 20u) << out;

  // The page: a distribution and the 50 rows furthest behind; one host column for all.
  const std::string html = ReadFileOrEmpty(*dir_ + "/run.html");
  EXPECT_TRUE(absl::StrContains(html, absl::StrCat(kAgents, " agents: ", kAgents, " done"))) << html.size();
  EXPECT_TRUE(absl::StrContains(html, "1 host for 60 agents")) << html.size();
}

TEST_F(ManyAgentsTest, UnreachableAgentsAreAllNamedAtOnce) {
  // Ten endpoints nothing listens on: sockets bound to a port but not
  // listening, kept open so no one else takes the port meanwhile.
  std::vector<int> held;
  std::vector<std::string> dead;
  for (int i = 0; i < 10; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    held.push_back(fd);
    dead.push_back(absl::StrCat("127.0.0.1:", ntohs(address.sin_port)));
  }
  std::vector<std::string> endpoints(endpoints_->begin(), endpoints_->begin() + 40);
  for (size_t i = 0; i < dead.size(); ++i) endpoints.insert(endpoints.begin() + 4 * i + 1, dead[i]);

  std::unique_ptr<Subprocess> coordinator;
  const absl::Time start = absl::Now();
  const int code = RunCoordinator(Plan(endpoints), "dead", &coordinator);
  const absl::Duration took = absl::Now() - start;
  for (int fd : held) ::close(fd);
  const std::string err = coordinator->ReadStderr();
  EXPECT_EQ(code, 3) << err;
  EXPECT_LT(took, absl::Seconds(60));
  size_t named = 0;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    if (absl::StrContains(line, "unreachable")) ++named;
  }
  EXPECT_EQ(named, dead.size()) << err;
  for (const std::string& endpoint : dead) {
    EXPECT_TRUE(absl::StrContains(err, absl::StrCat("agent ", endpoint, " is unreachable"))) << err;
  }
  for (const std::string& endpoint : *endpoints_) EXPECT_FALSE(absl::StrContains(err, endpoint + " ")) << err;
}

}  // namespace
}  // namespace fourtuple
