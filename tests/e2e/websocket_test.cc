// WebSocket on the connection, end to end: real agents upgrade thousands of
// connections to a real target-server --listen-protocol=websocket (ws://,
// and wss:// with --listen-tls-cert), and to WebSocket servers no one here
// wrote (python3-websockets from Debian, tests/support/ws_echo_server.py)
// with a path, Origin, a subprotocol and a header it checks; servers that
// refuse the upgrade, answer it wrongly, mask their frames or never answer a
// ping must each come back as their own reason. Plans with bad WebSocket
// fields must exit 2 naming the field.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
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
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr char kPython[] = "/usr/bin/python3";

void WriteFile(const std::string& path, const std::string& text) {
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
}

class WebSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("ft-ws"));
    // A throwaway CA and a server certificate for wss://.
    const std::string p256 = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256";
    const std::string command = absl::StrCat(
        "cd '", *dir_, "' && (", p256,
        " -out ca.key && openssl req -x509 -new -key ca.key -subj /CN=ws-test-ca -days 2 -out ca.pem && ",
        "printf 'subjectAltName=DNS:target.test,IP:127.0.0.1\\n' > server.ext && ", p256,
        " -out server.key && openssl req -new -key server.key -subj /CN=target.test -out server.csr && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile server.ext -out server.pem) >openssl.log 2>&1");
    ASSERT_EQ(std::system(command.c_str()), 0) << ReadFileOrEmpty(*dir_ + "/openssl.log");
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    const std::string ready = *dir_ + "/agent.ready";
    std::remove(ready.c_str());
    auto agent = Subprocess::Start(
        {AGENT_BIN, "--listen=127.0.0.1:0", "--processes=2", "--ready-file=" + ready}, "agent", *dir_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    auto info = agent_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(info.ok()) << info.status() << "\n" << agent_->Describe();
    agent_endpoint_ = (*info)["listen"][0].get<std::string>();
  }

  void TearDown() override {
    for (auto* process : {&server_, &agent_}) {
      if (!*process) continue;
      (*process)->Signal(SIGTERM);
      auto code = (*process)->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok()) << (*process)->Describe();
    }
  }

  // Starts `argv` (which writes `ready`) as the server; its port.
  int StartServer(std::vector<std::string> argv, const std::string& ready, const std::string& name) {
    std::remove(ready.c_str());
    auto p = Subprocess::Start(argv, name, *dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    server_ = std::move(*p);
    auto info = server_->WaitForReadyFile(ready, kStartTimeout);
    EXPECT_TRUE(info.ok()) << info.status() << "\n" << server_->Describe();
    if (!info.ok()) return -1;
    const std::string listen = (*info)["listen"][0].get<std::string>();
    return std::atoi(listen.substr(listen.rfind(':') + 1).c_str());
  }

  int StartTargetServer(bool tls) {
    const std::string ready = *dir_ + "/target.ready";
    std::vector<std::string> argv = {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2",
                                     "--listen-protocol=websocket", "--ready-file=" + ready};
    if (tls) {
      argv.push_back("--listen-tls-cert=" + *dir_ + "/server.pem");
      argv.push_back("--listen-tls-key=" + *dir_ + "/server.key");
    }
    return StartServer(argv, ready, "target-server");
  }

  // python3-websockets' echo server with `extra` arguments.
  int StartPythonServer(std::vector<std::string> extra) {
    const std::string ready = *dir_ + "/python.ready";
    std::vector<std::string> argv = {kPython, std::string(SOURCE_DIR) + "/tests/support/ws_echo_server.py",
                                     "--ready-file=" + ready};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return StartServer(argv, ready, "ws_echo_server.py");
  }

  int StartOddServer(const std::string& mode) {
    const std::string ready = *dir_ + "/odd.ready";
    return StartServer({kPython, std::string(SOURCE_DIR) + "/tests/support/ws_odd_server.py",
                        "--ready-file=" + ready, "--mode=" + mode},
                       ready, "ws_odd_server.py");
  }

  json Plan(int port, uint64_t connections, const json& websocket, uint32_t rounds = 2) const {
    return json{
        {"target", {{"endpoints", {absl::StrCat("127.0.0.1:", port)}}, {"websocket", websocket}}},
        {"agents", {{{"endpoint", agent_endpoint_}, {"source_addresses", {"127.0.8.1-127.0.8.4"}}}}},
        {"connections", connections},
        {"max_in_flight", 128},
        {"connect_timeout", "10s"},
        {"hold", "500ms"},
        {"echo", {{"rounds", rounds}, {"interval", "100ms"}, {"timeout", "10s"}}},
        {"report_interval", "300ms"},
    };
  }

  // Runs the coordinator on `plan`; the exit code.
  int Run(const json& plan, json* report) {
    const std::string plan_path = *dir_ + "/plan.json";
    const std::string report_path = *dir_ + "/report.json";
    std::remove(report_path.c_str());
    WriteFile(plan_path, plan.dump(2));
    auto coordinator = Subprocess::Start(
        {COORDINATOR_BIN, "run", "--plan=" + plan_path, "--report=" + report_path}, "coordinator", *dir_);
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    if (!coordinator.ok()) return -1;
    auto code = (*coordinator)->Wait(absl::Seconds(120));
    output_ = (*coordinator)->ReadStdout() + (*coordinator)->ReadStderr();
    diagnostics_ = output_ + (*coordinator)->Describe() + "\n" + agent_->Describe() +
                   (server_ ? "\n" + server_->Describe() : "");
    EXPECT_TRUE(code.ok()) << code.status() << "\n" << diagnostics_;
    *report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
    return code.ok() ? *code : -1;
  }

  void ExpectPass(const json& plan, uint64_t connections, uint32_t rounds, json* report) {
    const int code = Run(plan, report);
    ASSERT_FALSE(report->is_discarded()) << diagnostics_;
    EXPECT_EQ(code, 0) << report->dump(2).substr(0, 3000) << "\n" << diagnostics_;
    EXPECT_EQ((*report)["outcome"], "pass");
    EXPECT_EQ((*report)["totals"]["established"], connections);
    EXPECT_EQ((*report)["totals"]["echo_verified"], rounds * connections);
    EXPECT_EQ((*report)["totals"]["ws_upgrades"], connections);
    const json& upgrade = (*report)["latency_ms"]["ws_upgrade"];
    EXPECT_GT(upgrade["p50"].get<double>(), 0.0) << upgrade.dump();
  }

  // Every connection failed with `reason`; the summary names it and its fix.
  void ExpectAllFailed(const json& plan, const std::string& reason, json* report_out = nullptr) {
    json local;
    json& report = report_out != nullptr ? *report_out : local;
    EXPECT_EQ(Run(plan, &report), 1) << diagnostics_;
    ASSERT_FALSE(report.is_discarded()) << diagnostics_;
    const uint64_t requested = report["totals"]["requested"].get<uint64_t>();
    EXPECT_EQ(report["failures"][reason], requested) << report["failures"].dump() << "\n" << diagnostics_;
    EXPECT_NE(output_.find(reason), std::string::npos) << output_;
  }

  // A plan the coordinator must refuse with exit 2, naming `field`.
  void ExpectPlanError(const json& websocket, const std::string& field) {
    json report;
    EXPECT_EQ(Run(Plan(9, 10, websocket), &report), 2) << websocket.dump() << "\n" << output_;
    EXPECT_NE(output_.find(field), std::string::npos) << websocket.dump() << "\n" << output_;
  }

  static std::string* dir_;
  std::unique_ptr<Subprocess> agent_;
  std::unique_ptr<Subprocess> server_;
  std::string agent_endpoint_;
  std::string output_;
  std::string diagnostics_;
};
std::string* WebSocketTest::dir_ = nullptr;

TEST_F(WebSocketTest, ThreeThousandConnectionsEchoFramesWithTargetServer) {
  constexpr uint64_t kConnections = 3000;
  const int port = StartTargetServer(/*tls=*/false);
  ASSERT_GT(port, 0);
  json report;
  ExpectPass(Plan(port, kConnections, {{"path", "/any/path?x=1"}}), kConnections, 2, &report);
  // The close phase's close frames were answered by the server.
  EXPECT_GT(report["totals"]["ws_closed_cleanly"].get<uint64_t>(), 0u) << report["totals"].dump();
  EXPECT_EQ(report["plan"]["target"]["websocket"]["path"], "/any/path?x=1");
  EXPECT_NE(output_.find("websocket: 3,000 upgrades"), std::string::npos) << output_;
  EXPECT_NE(output_.find("ws_upgrade"), std::string::npos) << output_;
}

TEST_F(WebSocketTest, WssThroughTlsToTargetServer) {
  constexpr uint64_t kConnections = 1500;
  const int port = StartTargetServer(/*tls=*/true);
  ASSERT_GT(port, 0);
  json plan = Plan(port, kConnections, {{"path", "/"}, {"host", "target.test"}});
  plan["target"]["tls"] = {{"ca", "ca.pem"}, {"server_name", "target.test"}};
  json report;
  ExpectPass(plan, kConnections, 2, &report);
  EXPECT_EQ(report["totals"]["tls_handshakes"], kConnections);
}

TEST_F(WebSocketTest, WssThroughOpenSslObjectsWithTls12) {
  // TLS 1.2 stays in OpenSSL's SSL objects on both sides (no detached records).
  constexpr uint64_t kConnections = 300;
  const int port = StartTargetServer(/*tls=*/true);
  ASSERT_GT(port, 0);
  json plan = Plan(port, kConnections, json::object(), 3);
  plan["target"]["tls"] = {{"ca", "ca.pem"}, {"max_version", "1.2"}};
  json report;
  ExpectPass(plan, kConnections, 3, &report);
}

TEST_F(WebSocketTest, PythonWebsocketsWithPathOriginSubprotocolAndHeader) {
  constexpr uint64_t kConnections = 300;
  // The server pings every connection every 200 ms and closes those whose
  // pong is late: the hold outlasts several pings.
  const int port =
      StartPythonServer({"--path=/echo?room=1", "--origin=https://target.test", "--subprotocol=chat.v2",
                         "--require-header=X-Token:t0k3n", "--server-ping=0.2"});
  ASSERT_GT(port, 0);
  json plan = Plan(port, kConnections,
                   {{"path", "/echo?room=1"},
                    {"origin", "https://target.test"},
                    {"subprotocols", {"superchat", "chat.v2"}},
                    {"headers", {{"X-Token", "t0k3n"}, {"X-Other", "1"}}}});
  plan["hold"] = "1500ms";
  json report;
  ExpectPass(plan, kConnections, 2, &report);
}

TEST_F(WebSocketTest, SendAndExpectTravelAsTextFrames) {
  constexpr uint64_t kConnections = 200;
  const int port = StartPythonServer({});
  ASSERT_GT(port, 0);
  json plan = Plan(port, kConnections, json::object());
  plan["echo"]["send"] = "hello, text frame";
  plan["echo"]["expect"] = "hello, text frame";
  json report;
  ExpectPass(plan, kConnections, 2, &report);
}

TEST_F(WebSocketTest, ClientPingsGetPongs) {
  constexpr uint64_t kConnections = 200;
  const int port = StartTargetServer(/*tls=*/false);
  ASSERT_GT(port, 0);
  json plan = Plan(port, kConnections, {{"ping_interval", "100ms"}}, 1);
  plan["hold"] = "1s";
  json report;
  ExpectPass(plan, kConnections, 1, &report);
  const uint64_t pings = report["totals"]["ws_pings"].get<uint64_t>();
  const uint64_t pongs = report["totals"]["ws_pongs"].get<uint64_t>();
  EXPECT_GE(pings, 3 * kConnections) << report["totals"].dump();
  // Pings still out when the run closed have no pong yet: at most one each.
  EXPECT_GE(pongs + kConnections, pings) << report["totals"].dump();
  EXPECT_NE(output_.find(" pongs, "), std::string::npos) << output_;
}

TEST_F(WebSocketTest, UnansweredPingsAreAPingTimeout) {
  const int port = StartOddServer("mute");
  ASSERT_GT(port, 0);
  json plan = Plan(port, 100, {{"ping_interval", "100ms"}}, 0);
  plan["echo"]["timeout"] = "300ms";
  plan["hold"] = "1500ms";
  ExpectAllFailed(plan, "ws_ping_timeout");
}

TEST_F(WebSocketTest, RefusedUpgradeIsRejected) {
  const int port = StartPythonServer({"--reject"});
  ASSERT_GT(port, 0);
  json report;
  ExpectAllFailed(Plan(port, 100, json::object()), "ws_upgrade_rejected", &report);
  // What the server said is kept: the refusal's status line.
  const json sample = report["agents"][0]["failure_samples"]["ws_upgrade_rejected"];
  ASSERT_TRUE(sample.is_string()) << report["agents"][0].dump();
  EXPECT_EQ(sample.get<std::string>().rfind("HTTP/1.1 403", 0), 0u) << sample;
}

TEST_F(WebSocketTest, WrongPathOrMissingHeaderIsRejected) {
  const int port = StartPythonServer({"--path=/echo", "--require-header=X-Token:t"});
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 50, {{"path", "/other"}, {"headers", {{"X-Token", "t"}}}}),
                  "ws_upgrade_rejected");
  ExpectAllFailed(Plan(port, 50, {{"path", "/echo"}}), "ws_upgrade_rejected");
}

TEST_F(WebSocketTest, SubprotocolNotChosenIsAProtocolError) {
  // The server speaks only "chat"; the plan offers "other": the server
  // accepts without one, which the client must refuse.
  const int port = StartPythonServer({"--subprotocol=chat"});
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 50, {{"subprotocols", {"other"}}}), "ws_protocol_error");
}

TEST_F(WebSocketTest, WrongAcceptIsAProtocolError) {
  const int port = StartOddServer("bad-accept");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 50, json::object()), "ws_protocol_error");
}

TEST_F(WebSocketTest, MaskedServerFramesAreAProtocolError) {
  const int port = StartOddServer("masked");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 50, json::object(), 1), "ws_protocol_error");
}

TEST_F(WebSocketTest, RawServerIsNotWebSocket) {
  // A raw echo target-server echoes the request: not an HTTP response.
  const std::string ready = *dir_ + "/raw.ready";
  const int port =
      StartServer({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--ready-file=" + ready},
                  ready, "target-server");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 50, json::object()), "ws_protocol_error");
}

TEST_F(WebSocketTest, BadWebSocketFieldsAreRefusedByName) {
  ExpectPlanError({{"headers", {{"X Token", "t"}}}}, "plan.target.websocket.headers.\"X Token\"");
  ExpectPlanError({{"headers", {{"X-Token:", "t"}}}}, "plan.target.websocket.headers.\"X-Token:\"");
  ExpectPlanError({{"headers", {{"", "t"}}}}, "plan.target.websocket.headers.\"\"");
  ExpectPlanError({{"headers", {{"Sec-WebSocket-Key", "x"}}}}, "plan.target.websocket.headers");
  ExpectPlanError({{"headers", {{"X-Token", "a\r\nb"}}}}, "plan.target.websocket.headers");
  ExpectPlanError({{"path", "echo"}}, "plan.target.websocket.path");
  ExpectPlanError({{"path", "/a b"}}, "plan.target.websocket.path");
  ExpectPlanError({{"subprotocols", {"chat v2"}}}, "plan.target.websocket.subprotocols[0]");
  ExpectPlanError({{"subprotocols", {"chat", "chat"}}}, "plan.target.websocket.subprotocols[1]");
  ExpectPlanError({{"ping_interval", "0s"}}, "plan.target.websocket.ping_interval");
  ExpectPlanError({{"ping_interval", "-1s"}}, "plan.target.websocket.ping_interval");
  ExpectPlanError({{"pinginterval", "1s"}}, "pinginterval");
  ExpectPlanError("ws://x", "plan.target.websocket");
}

}  // namespace
}  // namespace fourtuple
