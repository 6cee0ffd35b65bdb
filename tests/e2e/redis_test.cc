// echo.send / echo.expect against a server that is not an echo server: a real
// redis-server from Debian's package (scripts/install-deps.sh installs it; the
// test installs nothing and skips when /usr/bin/redis-server is missing),
// driven by the coordinator CLI through a real agent. Redis answers
// "PING\r\n" with "+PONG\r\n".
#include <arpa/inet.h>
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

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr int kRedisMaxClients = 10000;
// Redis wants maxclients + 32 descriptors (listeners, logs, its own pipes).
constexpr rlim_t kRedisFdsNeeded = kRedisMaxClients + 32;
constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// A loopback port nobody listens on right now (redis cannot publish a port 0
// choice; a clash shows up as redis exiting, and the test says so).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool Connects(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

class RedisSendExpectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRedisServer, X_OK) != 0) {
      GTEST_SKIP() << kRedisServer << " is missing: install Debian's redis-server package "
                   << "(scripts/install-deps.sh does)";
    }
    // Redis raises its soft fd limit itself, up to the hard one; below what
    // maxclients needs it would quietly lower maxclients.
    rlimit limit{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    ASSERT_GE(limit.rlim_max, kRedisFdsNeeded)
        << "redis-server --maxclients " << kRedisMaxClients << " needs " << kRedisFdsNeeded
        << " file descriptors; the hard RLIMIT_NOFILE is " << limit.rlim_max;

    dir_ = MakeTempDir("ft-redis");
    port_ = FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    // Protected mode answers every client not from 127.0.0.1 itself with
    // "-DENIED" and a close; the agent sends from 127.0.6.x, and redis
    // listens on loopback only anyway.
    auto redis =
        Subprocess::Start({kRedisServer, "--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                           "--protected-mode", "no", "--save", "", "--appendonly", "no", "--maxclients",
                           absl::StrCat(kRedisMaxClients), "--dir", dir_, "--logfile", ""},
                          "redis-server", dir_);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    const absl::Time deadline = absl::Now() + kStartTimeout;
    while (!Connects(port_)) {
      ASSERT_TRUE(redis_->running()) << "redis-server exited (port " << port_ << " taken?)\n"
                                     << redis_->ReadStdout() << redis_->Describe();
      ASSERT_LT(absl::Now(), deadline) << "redis-server does not accept on port " << port_;
      absl::SleepFor(absl::Milliseconds(20));
    }
    // It got the descriptors it asked for: no "maxclients has been reduced".
    const std::string log = redis_->ReadStdout();
    ASSERT_EQ(log.find("reduced"), std::string::npos) << log;

    const std::string ready = dir_ + "/agent.ready";
    auto agent =
        Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready}, "agent", dir_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    auto info = agent_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(info.ok()) << info.status() << "\n" << agent_->Describe();
    agent_endpoint_ = (*info)["listen"][0].get<std::string>();
  }

  void TearDown() override {
    // Everything started here is ended by its PID; redis exits 0 on SIGTERM.
    if (agent_) {
      agent_->Signal(SIGTERM);
      auto code = agent_->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok() && *code == 0) << agent_->Describe();
    }
    if (redis_) {
      redis_->Signal(SIGTERM);
      auto code = redis_->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok() && *code == 0) << redis_->ReadStdout() << redis_->Describe();
    }
  }

  json Plan(uint64_t connections, uint32_t rounds, const std::string& expect) const {
    return json{
        {"target", {{"endpoints", {absl::StrCat("127.0.0.1:", port_)}}}},
        {"agents", {{{"endpoint", agent_endpoint_}, {"source_addresses", {"127.0.6.1-127.0.6.4"}}}}},
        {"connections", connections},
        {"max_in_flight", 256},
        {"connect_timeout", "10s"},
        {"hold", "1s"},
        {"echo",
         {{"rounds", rounds},
          {"send", "PING\r\n"},
          {"expect", expect},
          {"interval", "200ms"},
          {"timeout", "10s"}}},
        {"report_interval", "500ms"},
    };
  }

  // Runs the coordinator on `plan`; its exit code, the report in *report.
  int RunCoordinator(const json& plan, json* report) {
    const std::string plan_path = dir_ + "/plan.json";
    const std::string report_path = dir_ + "/report.json";
    FILE* file = std::fopen(plan_path.c_str(), "w");
    const std::string text = plan.dump(2);
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
    auto coordinator = Subprocess::Start(
        {COORDINATOR_BIN, "run", "--plan=" + plan_path, "--report=" + report_path}, "coordinator", dir_);
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    if (!coordinator.ok()) return -1;
    auto code = (*coordinator)->Wait(absl::Seconds(180));
    diagnostics_ = (*coordinator)->ReadStdout() + (*coordinator)->Describe() + "\n" + agent_->Describe();
    EXPECT_TRUE(code.ok()) << code.status() << "\n" << diagnostics_;
    *report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
    return code.ok() ? *code : -1;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> redis_;
  std::unique_ptr<Subprocess> agent_;
  std::string agent_endpoint_;
  std::string diagnostics_;
};

TEST_F(RedisSendExpectTest, EightThousandConnectionsPassTwoPingPongRounds) {
  constexpr uint64_t kConnections = 8000;
  json report;
  const int code = RunCoordinator(Plan(kConnections, 2, "+PONG\r\n"), &report);
  ASSERT_FALSE(report.is_discarded()) << "no report\n" << diagnostics_;
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 4000) << "\n" << diagnostics_;
  EXPECT_EQ(report["outcome"], "pass");
  const json& totals = report["totals"];
  EXPECT_EQ(totals["requested"], kConnections);
  EXPECT_EQ(totals["established"], kConnections);
  EXPECT_EQ(totals["failed"], 0);
  EXPECT_EQ(totals["peak_open"], kConnections);
  EXPECT_EQ(totals["echo_verified"], 2 * kConnections);  // every connection, twice
  EXPECT_EQ(totals["echo_failed"], 0);
  ASSERT_EQ(report["agents"].size(), 1u);
  EXPECT_EQ(report["agents"][0]["echo_verified"], 2 * kConnections);
  EXPECT_EQ(report["agents"][0]["echo_mismatched"], 0);
  // The report's plan says what was checked, escapes intact.
  EXPECT_EQ(report["plan"]["echo"]["send"], "PING\r\n");
  EXPECT_EQ(report["plan"]["echo"]["expect"], "+PONG\r\n");
  EXPECT_FALSE(report["plan"]["echo"].contains("payload_bytes"));
  std::printf(
      "redis: %s connections, %s verified, connect %.3f s (%.0f/s), echo %.3f s (%.0f/s), "
      "echo rtt p50 %.3f ms p99 %.3f ms\n",
      totals["established"].dump().c_str(), totals["echo_verified"].dump().c_str(),
      totals["connect_seconds"].get<double>(), totals["connect_rate"].get<double>(),
      totals["echo_seconds"].get<double>(), totals["echo_rate"].get<double>(),
      report["latency_ms"]["echo_rtt"]["p50"].get<double>(),
      report["latency_ms"]["echo_rtt"]["p99"].get<double>());
}

TEST_F(RedisSendExpectTest, AReplyRedisDoesNotSendIsAMismatch) {
  constexpr uint64_t kConnections = 500;
  json report;
  const int code = RunCoordinator(Plan(kConnections, 1, "+PANG\r\n"), &report);
  ASSERT_FALSE(report.is_discarded()) << "no report\n" << diagnostics_;
  EXPECT_EQ(code, 1) << report.dump(2).substr(0, 4000) << "\n" << diagnostics_;
  EXPECT_EQ(report["outcome"], "fail");
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["echo_verified"], 0);
  EXPECT_EQ(report["failures"]["echo_mismatch"], kConnections) << report["failures"].dump();
  ASSERT_EQ(report["agents"].size(), 1u);
  EXPECT_EQ(report["agents"][0]["echo_mismatched"], kConnections);
}

}  // namespace
}  // namespace fourtuple
