// The conversation end to end, against real servers no one here wrote:
//  - {id} templates: Redis (Debian's redis-server) takes `SET k{id} v` from
//    every connection and ends with exactly as many keys as connections;
//    mosquitto (Debian's MQTT broker) takes an MQTT 3.1.1 CONNECT whose
//    client id is {id} (echo.first_send) and answers CONNACK, then
//    PINGREQ/PINGRESP echo rounds: every connection stays (a duplicate
//    client id would make the broker drop the older connection).
//  - echo.greeting against a server that speaks first
//    (tests/support/banner_server.py): the right greeting passes, a wrong
//    one is greeting_mismatch with what the server said in the report, and
//    a server that never speaks is greeting_timeout.
//  - failure samples: Redis in protected mode answers clients from other
//    loopback addresses "-DENIED ..." and closes; the report, the summary
//    and the live progress say so.
// scripts/install-deps.sh installs redis-server and mosquitto; a test whose
// server is missing skips.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/coordinator_cli.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::StartAgent;
using ::fourtuple::testing::StartedAgent;
using ::fourtuple::testing::Subprocess;
using ::fourtuple::testing::WritePlan;
using json = nlohmann::json;

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr char kMosquitto[] = "/usr/sbin/mosquitto";
constexpr absl::Duration kStartTimeout = absl::Seconds(20);

int FreeLoopbackPort() {
  const std::string endpoint = ::fourtuple::testing::ClosedLoopbackEndpoint();
  int port = 0;
  return absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port) ? port : -1;
}

// Sends `request` to 127.0.0.1:port and returns what comes back before the
// server pauses for 200 ms or closes ("" when it cannot connect).
std::string Exchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string reply;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    timeval timeout{0, 200'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char buffer[4096];
    for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, n);
  }
  if (fd >= 0) close(fd);
  return reply;
}

class ConversationTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("ft-conversation"); }

  void TearDown() override {
    // Everything started here is ended by its PID.
    for (Subprocess* process : {agent_.process.get(), server_.get()}) {
      if (process == nullptr) continue;
      process->Signal(SIGTERM);
      auto code = process->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok()) << process->Describe();
    }
  }

  void StartTheAgent() {
    agent_ = StartAgent({AGENT_BIN, "--processes=2"}, "agent", dir_);
    ASSERT_NE(agent_.process, nullptr);
  }

  // redis-server on a free port of `bind`, its own directory, no persistence.
  void StartRedis(const std::string& bind, bool protected_mode) {
    if (access(kRedisServer, X_OK) != 0) GTEST_SKIP() << kRedisServer << " is missing (install redis-server)";
    port_ = FreeLoopbackPort();
    ASSERT_GT(port_, 0);
    auto redis =
        Subprocess::Start({kRedisServer, "--port", absl::StrCat(port_), "--bind", bind, "--protected-mode",
                           protected_mode ? "yes" : "no", "--save", "", "--appendonly", "no", "--maxclients",
                           "4000", "--dir", dir_, "--logfile", ""},
                          "redis-server", dir_);
    ASSERT_TRUE(redis.ok()) << redis.status();
    server_ = std::move(*redis);
    const absl::Time deadline = absl::Now() + kStartTimeout;
    while (Exchange(port_, "PING\r\n") != "+PONG\r\n") {
      ASSERT_TRUE(server_->running()) << "redis-server exited (port " << port_ << " taken?)\n"
                                      << server_->ReadStdout() << server_->Describe();
      ASSERT_LT(absl::Now(), deadline) << "redis-server does not answer on port " << port_;
      absl::SleepFor(absl::Milliseconds(20));
    }
    StartTheAgent();
  }

  // The server started from `argv` that writes {"port": N} to DIR/server.ready.
  void StartServerWithReadyFile(const std::vector<std::string>& argv, const std::string& name,
                                const std::string& port_key) {
    auto server = Subprocess::Start(argv, name, dir_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto info = server_->WaitForReadyFile(dir_ + "/server.ready", kStartTimeout);
    ASSERT_TRUE(info.ok()) << info.status() << server_->Describe();
    if (port_key == "port") {
      port_ = (*info)["port"].get<int>();
    } else {
      const std::string endpoint = (*info)["listen"][0].get<std::string>();
      ASSERT_TRUE(absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port_));
    }
    StartTheAgent();
  }

  json Plan(uint64_t connections, const json& echo,
            const std::string& sources = "127.0.7.1-127.0.7.4") const {
    return json{
        {"target", {{"endpoints", {absl::StrCat("127.0.0.1:", port_)}}}},
        {"agents", {{{"endpoint", agent_.endpoint}, {"source_addresses", {sources}}}}},
        {"connections", connections},
        {"max_in_flight", 256},
        {"connect_timeout", "10s"},
        {"hold", "1s"},
        {"echo", echo},
        {"report_interval", "300ms"},
    };
  }

  // Runs the plan; the report in *report.
  Outcome Run(const json& plan, json* report) {
    const std::string path = WritePlan(dir_, "plan.json", plan.dump(2));
    const std::string report_path = dir_ + "/report.json";
    const std::string html_path = dir_ + "/report.html";
    Outcome outcome = RunCoordinator(
        COORDINATOR_BIN, {"run", "--plan=" + path, "--report=" + report_path, "--html=" + html_path}, dir_,
        absl::Seconds(120));
    *report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
    html_ = ReadFileOrEmpty(html_path);
    return outcome;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Subprocess> server_;
  StartedAgent agent_;
  std::string html_;
};

// `SET k{id} v` in RESP's array form (so the key's length is exact): every
// connection writes its own key, so Redis ends with exactly one per
// connection.
TEST_F(ConversationTest, RedisSetWithIdLeavesOneKeyPerConnection) {
  StartRedis("127.0.0.1", /*protected_mode=*/false);
  if (IsSkipped()) return;
  constexpr uint64_t kConnections = 3000;
  json report;
  const Outcome run = Run(Plan(kConnections, {{"rounds", 1},
                                              {"send", "*3\r\n$3\r\nSET\r\n$17\r\nk{id}\r\n$1\r\nv\r\n"},
                                              {"expect", "+OK\r\n"},
                                              {"timeout", "10s"}}),
                          &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["echo_verified"], kConnections);
  EXPECT_EQ(Exchange(port_, "*1\r\n$6\r\nDBSIZE\r\n"), absl::StrCat(":", kConnections, "\r\n"));
  // Keys are k + 16 lowercase hex digits.
  const std::string key = Exchange(port_, "*1\r\n$9\r\nRANDOMKEY\r\n");
  ASSERT_EQ(key.size(), 5u + 17u + 2u) << key;
  EXPECT_EQ(key.substr(0, 5), "$17\r\n");
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef", 6), key.size() - 2) << key;
  EXPECT_EQ(report["plan"]["echo"]["send"], "*3\r\n$3\r\nSET\r\n$17\r\nk{id}\r\n$1\r\nv\r\n");
}

// MQTT 3.1.1: CONNECT (client id {id}, 16 bytes, so the remaining length is
// always 0x1c) once per connection, CONNACK 20 02 00 00; then PINGREQ c0 00
// and PINGRESP d0 00 per round.
TEST_F(ConversationTest, MosquittoTakesAConnectPerIdAndPingRounds) {
  if (access(kMosquitto, X_OK) != 0) GTEST_SKIP() << kMosquitto << " is missing (install mosquitto)";
  constexpr uint64_t kConnections = 2000;
  port_ = FreeLoopbackPort();
  ASSERT_GT(port_, 0);
  const std::string config =
      WritePlan(dir_, "mosquitto.conf",
                absl::StrCat("listener ", port_,
                             " 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\n"));
  // The broker keeps the soft fd limit it is given.
  auto broker = Subprocess::Start({"/usr/bin/prlimit", "--nofile=8192:8192", kMosquitto, "-c", config},
                                  "mosquitto", dir_);
  ASSERT_TRUE(broker.ok()) << broker.status();
  server_ = std::move(*broker);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  // A CONNECT of our own until the broker answers it.
  const std::string probe("\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02pr", 16);
  while (Exchange(port_, probe).substr(0, 4) != std::string("\x20\x02\x00\x00", 4)) {
    ASSERT_TRUE(server_->running()) << server_->Describe();
    ASSERT_LT(absl::Now(), deadline) << "mosquitto does not answer on port " << port_;
    absl::SleepFor(absl::Milliseconds(20));
  }
  StartTheAgent();
  json report;
  const Outcome run =
      Run(Plan(kConnections, {{"rounds", 2},
                              {"first_send", {{"hex", "101c 0004 4d515454 04 02 003c 0010 {id}"}}},
                              {"first_expect", {{"hex", "20020000"}}},
                              {"send", {{"hex", "c000"}}},
                              {"expect", {{"hex", "d000"}}},
                              {"interval", "300ms"},
                              {"timeout", "10s"}}),
          &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 0) << run.out << run.err << server_->Describe();
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["failed"], 0);
  EXPECT_EQ(report["totals"]["echo_verified"], 2 * kConnections);
  EXPECT_EQ(report["agents"][0]["closed_by_peer"], 0);
  EXPECT_EQ(report["agents"][0]["open"], 0);  // closed by us at the end, not before
  EXPECT_EQ(report["plan"]["echo"]["send"], json({{"hex", "c000"}}));
}

TEST_F(ConversationTest, GreetingFromAServerThatSpeaksFirst) {
  StartServerWithReadyFile({"/usr/bin/python3", std::string(SOURCE_DIR) + "/tests/support/banner_server.py",
                            dir_ + "/server.ready", "220 fourtuple-test ESMTP ready\\r\\n"},
                           "banner_server", "port");
  constexpr uint64_t kConnections = 400;
  json report;
  // A prefix of the banner: the rest of its line is read and ignored, then
  // the unique-id echo rounds run as on any echo server.
  Outcome run = Run(
      Plan(kConnections, {{"rounds", 2}, {"greeting", "220 "}, {"interval", "200ms"}, {"timeout", "10s"}}),
      &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 0) << run.out << run.err << server_->Describe();
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["echo_verified"], 2 * kConnections);
  EXPECT_EQ(report["plan"]["echo"]["greeting"], "220 ");

  // A greeting the server does not send: not one connection is established.
  run = Run(Plan(kConnections, {{"rounds", 1}, {"greeting", "250 "}, {"timeout", "10s"}}), &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_EQ(report["totals"]["established"], 0);
  EXPECT_EQ(report["failures"]["greeting_mismatch"], kConnections) << report["failures"].dump();
  EXPECT_EQ(report["agents"][0]["failure_samples"]["greeting_mismatch"],
            "220 fourtuple-test ESMTP ready\\r\\n");
  EXPECT_CONTAINS(run.out, "reply: \"220 fourtuple-test ESMTP ready\\r\\n\"");
  // The live progress (stderr) announces it once.
  EXPECT_CONTAINS(run.err, "greeting_mismatch, the target said: \"220 fourtuple-test ESMTP ready\\r\\n\"");
  EXPECT_CONTAINS(html_, "220 fourtuple-test ESMTP ready\\r\\n");
}

TEST_F(ConversationTest, AGreetingThatNeverComesTimesOut) {
  StartServerWithReadyFile(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--ready-file=" + dir_ + "/server.ready"},
      "target-server", "listen");
  constexpr uint64_t kConnections = 200;
  json plan = Plan(kConnections, {{"rounds", 1}, {"greeting", "hello"}});
  plan["connect_timeout"] = "1s";
  json report;
  const Outcome run = Run(plan, &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_EQ(report["totals"]["established"], 0);
  EXPECT_EQ(report["failures"]["greeting_timeout"], kConnections) << report["failures"].dump();
  EXPECT_CONTAINS(run.out, "does not speak first");
}

// Protected mode: Redis bound to 127.0.0.1 without a password answers a
// client from any other address with an error and a close. Every connection
// fails, and the report says what Redis said.
TEST_F(ConversationTest, RedisInProtectedModeShowsWhatItSaid) {
  StartRedis("127.0.0.1", /*protected_mode=*/true);
  if (IsSkipped()) return;
  constexpr uint64_t kConnections = 300;
  json report;
  const Outcome run =
      Run(Plan(kConnections, {{"rounds", 1}, {"send", "PING\r\n"}, {"expect", "+PONG\r\n"}}), &report);
  ASSERT_TRUE(report.is_object()) << run.out << run.err;
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_EQ(report["failures"]["echo_mismatch"], kConnections) << report["failures"].dump();
  const std::string sample = report["agents"][0]["failure_samples"].value("echo_mismatch", "");
  EXPECT_EQ(sample.rfind("-DENIED Redis is running in protected mode", 0), 0u) << sample;
  EXPECT_LE(sample.size(), 64u + 3u);  // 64 printable bytes and "..."
  EXPECT_CONTAINS(run.out, "received: \"-DENIED Redis is running in protected mode");
  EXPECT_CONTAINS(run.err, "echo_mismatch, the target said: \"-DENIED Redis is running in protected mode");
}

TEST_F(ConversationTest, TemplateTyposAreRefusedNamingTheField) {
  port_ = 9;
  agent_.endpoint = "127.0.0.1:1";  // never reached: the plan is refused first
  for (const auto& [field, text] : std::vector<std::pair<std::string, std::string>>{
           {"send", "SET k{ID} v"}, {"expect", "k{id"}, {"send", "{idx}"}}) {
    json echo = {{"send", "x"}, {"expect", "y"}};
    echo[field] = text;
    json report;
    const Outcome run = Run(Plan(10, echo), &report);
    EXPECT_EQ(run.code, 2) << run.out << run.err;
    EXPECT_CONTAINS(run.err, "plan.echo." + field);
    EXPECT_CONTAINS(run.err, "write {id} (lowercase)");
  }
}

}  // namespace
}  // namespace fourtuple
