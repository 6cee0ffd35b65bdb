// Prometheus /metrics end to end: target-server and agent started with
// --metrics=127.0.0.1:0 publish the bound address in their ready files; a
// plain-socket GET during load shows the real open counts, and every line of
// every scrape must parse as Prometheus text (tests/support/prometheus_check).
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/address.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/echo_client.h"
#include "tests/support/http_get.h"
#include "tests/support/prometheus_check.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::EchoClient;
using ::fourtuple::testing::EchoClientOptions;
using ::fourtuple::testing::EchoClientResult;
using ::fourtuple::testing::HttpGet;
using ::fourtuple::testing::HttpRequest;
using ::fourtuple::testing::HttpResponse;
using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ParsePrometheusText;
using ::fourtuple::testing::PrometheusSamples;
using ::fourtuple::testing::Subprocess;
using ::testing::HasSubstr;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// One scrape, checked line by line; an empty map after a test failure.
PrometheusSamples Scrape(const std::string& endpoint) {
  absl::StatusOr<HttpResponse> response = HttpGet(endpoint, "/metrics");
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) return {};
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_THAT(response->content_type, HasSubstr("text/plain; version=0.0.4"));
  absl::StatusOr<PrometheusSamples> samples = ParsePrometheusText(response->body);
  EXPECT_TRUE(samples.ok()) << samples.status() << "\n" << response->body;
  return samples.ok() ? *samples : PrometheusSamples{};
}

double Value(const PrometheusSamples& samples, const std::string& key) {
  auto it = samples.find(key);
  return it == samples.end() ? -1 : it->second;
}

// Scrapes until `done` holds or `timeout` passes; the last scrape.
PrometheusSamples ScrapeUntil(const std::string& endpoint, absl::Duration timeout,
                              const std::function<bool(const PrometheusSamples&)>& done) {
  const absl::Time deadline = absl::Now() + timeout;
  PrometheusSamples samples;
  do {
    samples = Scrape(endpoint);
    if (samples.empty() || done(samples)) return samples;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  return samples;
}

struct Started {
  std::unique_ptr<Subprocess> process;
  nlohmann::json ready;
};

Started StartProgram(std::vector<std::string> argv, const std::string& name, const std::string& dir) {
  Started started;
  const std::string ready = absl::StrCat(dir, "/", name, ".ready");
  argv.push_back("--ready-file=" + ready);
  auto process = Subprocess::Start(argv, name, dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return started;
  started.process = *std::move(process);
  auto json = started.process->WaitForReadyFile(ready, kStartTimeout);
  EXPECT_TRUE(json.ok()) << json.status();
  if (json.ok()) started.ready = *json;
  return started;
}

TEST(MetricsTest, TargetServerShowsOpenConnections) {
  const std::string dir = MakeTempDir("ft-metrics-target");
  Started target =
      StartProgram({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2", "--metrics=127.0.0.1:0"},
                   "target-server", dir);
  ASSERT_TRUE(target.process) << "target-server did not start";
  ASSERT_TRUE(target.ready.contains("metrics")) << target.ready.dump();
  const std::string metrics = target.ready["metrics"].get<std::string>();
  ASSERT_TRUE(ParseEndpoint(metrics).ok()) << metrics;
  EXPECT_THAT(metrics, ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE(metrics, "127.0.0.1:0");

  PrometheusSamples idle = Scrape(metrics);
  EXPECT_EQ(Value(idle, "fourtuple_target_open_connections"), 0);
  EXPECT_EQ(Value(idle, "fourtuple_target_workers_alive"), 2);

  constexpr uint64_t kConnections = 2000;
  EchoClientOptions options;
  options.targets = {*ParseEndpoint(target.ready["listen"][0].get<std::string>())};
  options.sources = *ParseAddressSpec("127.0.5.1-127.0.5.4");
  options.connections = kConnections;
  auto client = EchoClient::Start(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<EchoClientResult> result = (*client)->Connect();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->established, kConnections) << result->ToString();
  result = (*client)->Echo();  // every connection was accepted once this passes
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->echo_verified, kConnections) << result->ToString();

  // Workers publish their counters independently: wait for both the open
  // count and the echoed bytes to catch up.
  PrometheusSamples open = ScrapeUntil(metrics, absl::Seconds(10), [&](const PrometheusSamples& s) {
    return Value(s, "fourtuple_target_open_connections") == kConnections &&
           Value(s, "fourtuple_target_bytes_echoed_total") >= kConnections * options.payload_bytes;
  });
  EXPECT_EQ(Value(open, "fourtuple_target_open_connections"), kConnections);
  EXPECT_EQ(Value(open, "fourtuple_target_connections_accepted_total"), kConnections);
  EXPECT_EQ(Value(open, "fourtuple_target_connections_closed_total"), 0);
  EXPECT_GE(Value(open, "fourtuple_target_bytes_echoed_total"), kConnections * options.payload_bytes);
  EXPECT_EQ(Value(open, "fourtuple_target_worker_open_connections{worker=\"0\"}") +
                Value(open, "fourtuple_target_worker_open_connections{worker=\"1\"}"),
            kConnections);

  result = (*client)->CloseAll();
  ASSERT_TRUE(result.ok()) << result.status();
  PrometheusSamples closed = ScrapeUntil(metrics, absl::Seconds(10), [](const PrometheusSamples& s) {
    return Value(s, "fourtuple_target_open_connections") == 0;
  });
  EXPECT_EQ(Value(closed, "fourtuple_target_open_connections"), 0);
  EXPECT_EQ(Value(closed, "fourtuple_target_connections_closed_total"), kConnections);

  target.process->Signal(SIGTERM);
  absl::StatusOr<int> code = target.process->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << target.process->Describe();
}

TEST(MetricsTest, TargetServerRefusesBadOrTakenMetricsAddress) {
  const std::string dir = MakeTempDir("ft-metrics-target-bad");
  auto bad =
      Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--metrics=localhost"}, "bad-flag", dir);
  ASSERT_TRUE(bad.ok()) << bad.status();
  absl::StatusOr<int> code = (*bad)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  EXPECT_THAT((*bad)->ReadStderr(), HasSubstr("--metrics"));

  // A port someone already serves: a runtime failure naming the flag.
  Started first = StartProgram(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--metrics=127.0.0.1:0"}, "first", dir);
  ASSERT_TRUE(first.process && first.ready.contains("metrics"));
  const std::string taken = first.ready["metrics"].get<std::string>();
  auto second = Subprocess::Start(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--metrics=" + taken}, "second", dir);
  ASSERT_TRUE(second.ok()) << second.status();
  code = (*second)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*second)->ReadStderr(), HasSubstr("--metrics"));
  EXPECT_THAT((*second)->ReadStderr(), HasSubstr(taken));
}

TEST(MetricsTest, AgentRefusesABadMetricsAddress) {
  const std::string dir = MakeTempDir("ft-metrics-agent-bad");
  auto bad = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--metrics=127.0.0.1"}, "agent", dir);
  ASSERT_TRUE(bad.ok()) << bad.status();
  absl::StatusOr<int> code = (*bad)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  EXPECT_THAT((*bad)->ReadStderr(), HasSubstr("--metrics: "));
}

// Both programs that serve /metrics, each with it on a free loopback port.
struct MetricsProgram {
  std::string name;
  std::vector<std::string> argv;
};
std::vector<MetricsProgram> ProgramsWithMetrics() {
  return {{"target-server",
           {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--metrics=127.0.0.1:0"}},
          {"agent", {AGENT_BIN, "--listen=127.0.0.1:0", "--metrics=127.0.0.1:0"}}};
}

// --metrics does not slow down a stop: each program exits within moments of
// SIGTERM, having served a scrape (civetweb on its own takes up to 2 s).
TEST(MetricsTest, ProgramsWithMetricsStopWithinMomentsOfSigterm) {
  const std::string dir = MakeTempDir("ft-metrics-stop");
  for (const MetricsProgram& program : ProgramsWithMetrics()) {
    const std::string& name = program.name;
    Started started = StartProgram(program.argv, name, dir);
    ASSERT_TRUE(started.process) << name << " did not start";
    ASSERT_TRUE(started.ready.contains("metrics")) << started.ready.dump();
    Scrape(started.ready["metrics"].get<std::string>());
    absl::SleepFor(absl::Milliseconds(500));  // well into civetweb's poll quantum
    const absl::Time signalled = absl::Now();
    started.process->Signal(SIGTERM);
    absl::StatusOr<int> code = started.process->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << started.process->Describe();
    EXPECT_LT(absl::Now() - signalled, absl::Milliseconds(300)) << name;
  }
}

TEST(MetricsTest, AgentShowsTheRunDuringTheHoldAndTotalsAfter) {
  const std::string dir = MakeTempDir("ft-metrics-agent");
  Started target = StartProgram({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1",
                                 "--control=127.0.0.1:0", "--metrics=127.0.0.1:0"},
                                "target-server", dir);
  ASSERT_TRUE(target.process) << "target-server did not start";
  Started agent = StartProgram({AGENT_BIN, "--listen=127.0.0.1:0", "--processes=2", "--metrics=127.0.0.1:0"},
                               "agent", dir);
  ASSERT_TRUE(agent.process) << "agent did not start";
  ASSERT_TRUE(agent.ready.contains("metrics")) << agent.ready.dump();
  const std::string agent_metrics = agent.ready["metrics"].get<std::string>();
  const std::string target_metrics = target.ready["metrics"].get<std::string>();

  PrometheusSamples idle = Scrape(agent_metrics);
  EXPECT_EQ(Value(idle, "fourtuple_agent_run_active"), 0);
  EXPECT_EQ(Value(idle, "fourtuple_agent_open_connections"), 0);
  EXPECT_EQ(Value(idle, "fourtuple_agent_run_phase{phase=\"unspecified\"}"), 1);

  constexpr int kConnections = 2000;
  const std::string plan_path = dir + "/plan.json";
  {
    nlohmann::json plan = {
        {"target", {{"endpoints", {target.ready["listen"][0]}}, {"control", target.ready["control"]}}},
        {"agents", {{{"endpoint", agent.ready["listen"][0]}, {"source_addresses", {"127.0.6.1-127.0.6.4"}}}}},
        {"connections", kConnections},
        {"hold", "6s"},
        {"report_interval", "200ms"},
        {"lease", "5s"}};
    FILE* file = std::fopen(plan_path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fputs(plan.dump().c_str(), file);
    std::fclose(file);
  }
  const std::string report_path = dir + "/report.json";
  auto coordinator = Subprocess::Start(
      {COORDINATOR_BIN, "run", "--plan=" + plan_path, "--report=" + report_path}, "coordinator", dir);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();

  // The hold: every requested connection established and open.
  PrometheusSamples hold = ScrapeUntil(agent_metrics, absl::Seconds(40), [&](const PrometheusSamples& s) {
    return Value(s, "fourtuple_agent_run_active") == 1 &&
           Value(s, "fourtuple_agent_open_connections") == kConnections;
  });
  EXPECT_EQ(Value(hold, "fourtuple_agent_run_active"), 1) << (*coordinator)->Describe();
  EXPECT_EQ(Value(hold, "fourtuple_agent_requested_connections"), kConnections);
  EXPECT_EQ(Value(hold, "fourtuple_agent_open_connections"), kConnections);
  EXPECT_EQ(Value(hold, "fourtuple_agent_open_connections"),
            Value(hold, "fourtuple_agent_connects_established_total"));
  EXPECT_EQ(Value(hold, "fourtuple_agent_connects_attempted_total"), kConnections);
  EXPECT_EQ(Value(hold, "fourtuple_agent_connections_failed_total"), 0);
  EXPECT_EQ(Value(hold, "fourtuple_agent_worker_processes"), 2);
  EXPECT_EQ(Value(hold, "fourtuple_agent_connect_latency_seconds_count"), kConnections);
  EXPECT_TRUE(Value(hold, "fourtuple_agent_run_phase{phase=\"connected\"}") == 1 ||
              Value(hold, "fourtuple_agent_run_phase{phase=\"echoing\"}") == 1);
  // The server side of the same connections.
  PrometheusSamples target_hold = Scrape(target_metrics);
  EXPECT_EQ(Value(target_hold, "fourtuple_target_open_connections"), kConnections);

  absl::StatusOr<int> code = (*coordinator)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*coordinator)->Describe() << (*coordinator)->ReadStdout();

  // After the run: gauges back to zero, the run's totals kept.
  PrometheusSamples after = ScrapeUntil(agent_metrics, absl::Seconds(10), [](const PrometheusSamples& s) {
    return Value(s, "fourtuple_agent_run_active") == 0;
  });
  EXPECT_EQ(Value(after, "fourtuple_agent_run_active"), 0);
  EXPECT_EQ(Value(after, "fourtuple_agent_run_phase{phase=\"closed\"}"), 1);
  EXPECT_EQ(Value(after, "fourtuple_agent_open_connections"), 0);
  EXPECT_EQ(Value(after, "fourtuple_agent_runs_total"), 1);
  EXPECT_EQ(Value(after, "fourtuple_agent_connects_established_total"), kConnections);
  EXPECT_EQ(Value(after, "fourtuple_agent_echo_verified_total"), kConnections);
  EXPECT_EQ(Value(after, "fourtuple_agent_echo_rtt_seconds_count"), kConnections);
  EXPECT_EQ(Value(after, "fourtuple_agent_connect_latency_seconds_bucket{le=\"+Inf\"}"), kConnections);

  agent.process->Signal(SIGTERM);
  target.process->Signal(SIGTERM);
  code = agent.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << agent.process->Describe();
  code = target.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << target.process->Describe();
}

// Sockets that trickle a request header, one byte at a time, each hold one
// of the metrics server's threads until its request timeout: with ten of
// them connected to each program, a scrape must still answer at once.
TEST(MetricsTest, ScrapesAnswerWhileSlowClientsTrickle) {
  const std::string dir = MakeTempDir("ft-metrics-slow");
  for (const MetricsProgram& program : ProgramsWithMetrics()) {
    const std::string& name = program.name;
    Started started = StartProgram(program.argv, name, dir);
    ASSERT_TRUE(started.process) << name << " did not start";
    ASSERT_TRUE(started.ready.contains("metrics")) << started.ready.dump();
    const std::string metrics = started.ready["metrics"].get<std::string>();
    const Endpoint endpoint = *ParseEndpoint(metrics);

    constexpr int kSlowClients = 10;
    std::vector<int> slow;
    for (int i = 0; i < kSlowClients; ++i) {
      sockaddr_storage address;
      const socklen_t length = endpoint.ToSockaddr(&address);
      const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address), length), 0) << name;
      slow.push_back(fd);
    }
    // One byte of "GET /metrics HTTP/1.1\r\nX: ..." every 100 ms on each.
    std::atomic<bool> stop{false};
    std::thread trickler([&] {
      const std::string header = "GET /metrics HTTP/1.1\r\nX-Slow: ";
      for (size_t i = 0; !stop.load(); ++i) {
        const char byte = i < header.size() ? header[i] : 'x';
        for (int fd : slow) (void)send(fd, &byte, 1, MSG_NOSIGNAL);
        absl::SleepFor(absl::Milliseconds(100));
      }
    });
    absl::SleepFor(absl::Milliseconds(500));  // every slow client is being served

    for (int scrape = 0; scrape < 3; ++scrape) {
      const absl::Time start = absl::Now();
      absl::StatusOr<HttpResponse> response = HttpRequest(metrics, "GET", "/metrics", absl::Seconds(2));
      const absl::Duration took = absl::Now() - start;
      EXPECT_TRUE(response.ok()) << name << ": " << response.status();
      if (response.ok()) {
        EXPECT_EQ(response->status, 200) << name;
      }
      EXPECT_LT(took, absl::Seconds(2)) << name;
      absl::SleepFor(absl::Milliseconds(700));
    }
    stop.store(true);
    trickler.join();
    for (int fd : slow) close(fd);

    started.process->Signal(SIGTERM);
    absl::StatusOr<int> code = started.process->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << started.process->Describe();
  }
}

}  // namespace
}  // namespace fourtuple
