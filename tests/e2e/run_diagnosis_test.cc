// What a run's summary and report say about why it looked the way it did,
// with real processes and sockets: a target whose accept queue overflows
// (listen backlog 1, not accepting for a while) gives connects at the SYN
// retransmission times, which the run names with its fix; a send/expect run
// against an echo server words its mismatch for that mode, counts its
// checks so they add up, and prints n/a for the echo latency it never
// measured.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/coordinator_cli.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_echo_server.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::StartAgent;
using ::fourtuple::testing::StartedAgent;
using ::fourtuple::testing::WritePlan;
using json = nlohmann::json;

// A loopback listener with an accept queue of one that accepts nothing for
// `stall`, then accepts (and holds) everything: the handshakes that arrive
// meanwhile overflow its queue, the kernel drops their SYNs, and the
// clients retry after 1 s and 3 s.
class StallingListener {
 public:
  explicit StallingListener(absl::Duration stall) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0 || listen(fd_, 1) != 0) {
      ADD_FAILURE() << "listener set-up failed";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, stall] {
      absl::SleepFor(stall);
      while (!stop_.load()) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) accepted_.push_back(c);
      }
    });
  }
  ~StallingListener() {
    stop_.store(true);
    shutdown(fd_, SHUT_RDWR);  // wakes the blocked accept
    if (thread_.joinable()) thread_.join();
    for (int c : accepted_) close(c);
    close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> accepted_;  // touched by the thread only until it is joined
  std::thread thread_;
};

json Plan(const std::string& agent, const std::string& target, int connections) {
  return {{"target", {{"endpoints", {target}}}},
          {"agents", {{{"endpoint", agent}, {"source_addresses", {"127.0.1.1-127.0.1.2"}}}}},
          {"connections", connections},
          {"max_in_flight", 64},
          {"connect_timeout", "10s"},
          {"ramp_timeout", "20s"},
          {"hold", "0s"},
          {"echo", {{"rounds", 0}}},
          {"report_interval", "200ms"},
          {"lease", "5s"}};
}

TEST(RunDiagnosisTest, SynRetransmitsFromAnOverflowingAcceptQueueAreNamedWithTheFix) {
  const std::string dir = MakeTempDir("ft-diagnosis");
  StartedAgent agent = StartAgent({AGENT_BIN, "--processes=1"}, "agent", dir);
  ASSERT_FALSE(agent.endpoint.empty());
  StallingListener target(absl::Milliseconds(2500));
  const std::string plan_path =
      WritePlan(dir, "plan.json", Plan(agent.endpoint, target.endpoint(), 30).dump(2));
  const std::string report_path = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan_path, "--report=" + report_path},
                               dir, absl::Seconds(60));
  // Every connection got through in the end: a pass, with a slow tail.
  EXPECT_EQ(run.code, 0) << run.err << run.out;
  EXPECT_CONTAINS(run.out, "outcome: PASS");
  EXPECT_CONTAINS(run.out, "warning: ");
  EXPECT_CONTAINS(run.out, "the times of SYN retransmits");
  EXPECT_CONTAINS(run.out, "raise the target's listen backlog");
  EXPECT_CONTAINS(run.out, "or lower max_in_flight (now 64)");

  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  ASSERT_TRUE(report["warnings"].is_array()) << report.dump(2);
  EXPECT_NE(report["warnings"][0].get<std::string>().find("SYN retransmits"), std::string::npos);
  EXPECT_GE(report["latency_ms"]["connect"]["max"].get<double>(), 900.0);
  // The agent shares the target's host: its kernel counted the overflows.
  const json& kernel = report["agents"][0]["listen_turn_aways"];
  ASSERT_TRUE(kernel.is_object()) << report["agents"][0].dump(2);
  EXPECT_GT(kernel["listen_overflows"].get<uint64_t>() + kernel["listen_drops"].get<uint64_t>(), 0u);
  agent.process->Signal(SIGTERM);
}

TEST(RunDiagnosisTest, AQuickRunHasNoSlowConnectWarning) {
  const std::string dir = MakeTempDir("ft-diagnosis");
  StartedAgent agent = StartAgent({AGENT_BIN, "--processes=1"}, "agent", dir);
  ASSERT_FALSE(agent.endpoint.empty());
  agent::testing::TestEchoServer target;
  const std::string plan_path =
      WritePlan(dir, "plan.json", Plan(agent.endpoint, target.endpoint(), 200).dump(2));
  Outcome run =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan_path, "--report=" + dir + "/report.json"}, dir,
                     absl::Seconds(60));
  EXPECT_EQ(run.code, 0) << run.err << run.out;
  EXPECT_EQ(run.out.find("warning:"), std::string::npos) << run.out;
  EXPECT_EQ(run.err.find("tcp_max_syn_backlog"), std::string::npos) << run.err;
  agent.process->Signal(SIGTERM);
}

TEST(RunDiagnosisTest, SendExpectMismatchIsWordedForItsModeAndChecksAddUp) {
  const std::string dir = MakeTempDir("ft-diagnosis");
  StartedAgent agent = StartAgent({AGENT_BIN, "--processes=1"}, "agent", dir);
  ASSERT_FALSE(agent.endpoint.empty());
  agent::testing::TestEchoServer target;  // echoes PING back where PONG is expected
  json plan = Plan(agent.endpoint, target.endpoint(), 20);
  plan["echo"] = {
      {"rounds", 2}, {"send", "PING\r\n"}, {"expect", "PONG\r\n"}, {"interval", "100ms"}, {"timeout", "2s"}};
  const std::string plan_path = WritePlan(dir, "plan.json", plan.dump(2));
  const std::string report_path = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan_path, "--report=" + report_path},
                               dir, absl::Seconds(60));
  EXPECT_EQ(run.code, 1) << run.err << run.out;
  // No echo was expected: the echo server wording stays out.
  EXPECT_EQ(run.out.find("byte-exact"), std::string::npos) << run.out;
  EXPECT_CONTAINS(run.out, "the reply differs from echo.expect");
  EXPECT_CONTAINS(run.out, "expected: \"PONG\\r\\n\"");
  // Round 2 never ran on the connections round 1 closed: counted and said.
  EXPECT_CONTAINS(run.out, "0 of 40 echo checks passed (2 rounds x 20 connections): 20 failed, 20 skipped");
  EXPECT_CONTAINS(run.out,
                  "echo checks: 40 planned, 20 ran, 0 passed, 20 failed, 20 skipped (a connection whose "
                  "reply did not match echo.expect is closed)");
  // Nothing came back in time to measure: n/a, not 0.000.
  EXPECT_CONTAINS(run.out, "echo_rtt        n/a      n/a      n/a      n/a");
  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_TRUE(report["latency_ms"]["echo_rtt"]["p50"].is_null()) << report["latency_ms"].dump();
  EXPECT_EQ(report["latency_ms"]["echo_rtt"]["count"], 0);
  EXPECT_EQ(report["totals"]["echo_skipped"], 20);
  agent.process->Signal(SIGTERM);
}

}  // namespace
}  // namespace fourtuple
