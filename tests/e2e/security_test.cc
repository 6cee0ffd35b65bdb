// The control plane's security with the real binaries: the shared-secret
// token (--token-file), mutual TLS (--tls-*), the agent's --allow-targets,
// and refusing to serve unauthenticated on a non-loopback address.
#include <sys/stat.h>
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
#include "tests/support/coordinator_cli.h"
#include "tests/support/expect_contains.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::Subprocess;

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text,
                      mode_t mode = 0600) {
  const std::string path = dir + "/" + name;
  FILE* file = std::fopen(path.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
  chmod(path.c_str(), mode);
  return path;
}

// A started server and the endpoints from its ready file.
struct Server {
  std::unique_ptr<Subprocess> process;
  nlohmann::json ready;
  std::string listen() const { return ready["listen"][0].get<std::string>(); }
  std::string control() const { return ready.value("control", std::string()); }
};

Server StartServer(const char* binary, const std::string& name, std::vector<std::string> args,
                   const std::string& dir) {
  Server server;
  const std::string ready = dir + "/" + name + ".ready";
  args.insert(args.begin(), binary);
  args.push_back("--ready-file=" + ready);
  auto process = Subprocess::Start(args, name, dir);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return server;
  server.process = std::move(*process);
  auto json = server.process->WaitForReadyFile(ready, absl::Seconds(30));
  EXPECT_TRUE(json.ok()) << json.status() << server.process->Describe();
  if (json.ok()) server.ready = *json;
  return server;
}

void Stop(Server& server) {
  if (!server.process) return;
  server.process->Signal(SIGTERM);
  auto code = server.process->Wait(absl::Seconds(30));
  EXPECT_TRUE(code.ok() && *code == 0) << server.process->Describe();
}

std::string Plan(const std::string& target, const std::string& control, const std::string& agent,
                 int connections) {
  return absl::StrCat(R"({"target": {"endpoints": [")", target, "\"]",
                      control.empty() ? "" : absl::StrCat(R"(, "control": ")", control, "\""),
                      R"(}, "agents": [{"endpoint": ")", agent,
                      R"(", "source_addresses": ["127.0.1.1-127.0.1.4"]}],
                      "connections": )",
                      connections, R"(, "hold": "1s", "report_interval": "200ms"})");
}

constexpr char kToken[] = "f00dfeedf00dfeedf00dfeedf00dfeed";

// One agent wanting a token: the right token runs a plan; a wrong or missing
// one is refused (exit 3) by run, preflight and probe with a message about
// the token.
TEST(SecurityTest, TokenRequiredByTheAgent) {
  const std::string dir = MakeTempDir("ft-security-token");
  const std::string token = WriteFile(dir, "token", absl::StrCat(kToken, "\n"));
  const std::string wrong = WriteFile(dir, "wrong", "0000000000000000000000000000000\n");
  Server target = StartServer(TARGET_SERVER_BIN, "target", {"--listen=127.0.0.1:0", "--processes=1"}, dir);
  Server agent = StartServer(AGENT_BIN, "agent",
                             {"--listen=127.0.0.1:0", "--processes=1", "--token-file=" + token}, dir);
  ASSERT_FALSE(target.ready.is_null());
  ASSERT_FALSE(agent.ready.is_null());
  const std::string plan = WriteFile(dir, "plan.json", Plan(target.listen(), "", agent.listen(), 500));

  Outcome ok = RunCoordinator(
      COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + dir + "/report.json", "--token-file=" + token},
      dir);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err << agent.process->Describe();
  nlohmann::json report =
      nlohmann::json::parse(testing::ReadFileOrEmpty(dir + "/report.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["totals"]["established"], 500);
  EXPECT_EQ(report["totals"]["echo_verified"], 500);

  const std::string refused = "agent " + agent.listen() + " refused the token (UNAUTHENTICATED)";
  Outcome bad = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--token-file=" + wrong}, dir);
  EXPECT_EQ(bad.code, 3) << bad.err;
  EXPECT_CONTAINS(bad.err, refused);
  EXPECT_CONTAINS(bad.err, "wrong token");
  EXPECT_CONTAINS(bad.err, "--token-file");

  Outcome none = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan}, dir);
  EXPECT_EQ(none.code, 3) << none.err;
  EXPECT_CONTAINS(none.err, refused);
  EXPECT_CONTAINS(none.err, "no token");
  EXPECT_CONTAINS(none.err, "--token-file");

  Outcome preflight =
      RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + plan, "--token-file=" + wrong}, dir);
  EXPECT_EQ(preflight.code, 3) << preflight.err;
  EXPECT_CONTAINS(preflight.err, refused);
  Outcome preflight_ok =
      RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + plan, "--token-file=" + token}, dir);
  EXPECT_EQ(preflight_ok.code, 0) << preflight_ok.err;

  Outcome probe = RunCoordinator(COORDINATOR_BIN, {"probe", "--agents=" + agent.listen()}, dir);
  EXPECT_EQ(probe.code, 3) << probe.err;
  EXPECT_CONTAINS(probe.err, refused);
  Outcome probe_ok =
      RunCoordinator(COORDINATOR_BIN, {"probe", "--agents=" + agent.listen(), "--token-file=" + token}, dir);
  EXPECT_EQ(probe_ok.code, 0) << probe_ok.err;
  EXPECT_CONTAINS(probe_ok.out, "nofile soft/hard");

  // A token file others may read is refused, naming it (exit 2).
  const std::string open_token = WriteFile(dir, "open-token", absl::StrCat(kToken, "\n"), 0644);
  Outcome open = RunCoordinator(COORDINATOR_BIN,
                                {"probe", "--agents=" + agent.listen(), "--token-file=" + open_token}, dir);
  EXPECT_EQ(open.code, 2) << open.err;
  EXPECT_CONTAINS(open.err, "--token-file: token file " + open_token);
  Stop(agent);
  Stop(target);
}

// A target outside the agent's --allow-targets: PERMISSION_DENIED naming the
// flag and the target; the coordinator exits 3 and shows it.
TEST(SecurityTest, TargetOutsideAllowTargetsIsRefused) {
  const std::string dir = MakeTempDir("ft-security-allow");
  Server agent = StartServer(AGENT_BIN, "agent",
                             {"--listen=127.0.0.1:0", "--processes=1", "--allow-targets=127.0.0.2/32"}, dir);
  ASSERT_FALSE(agent.ready.is_null());
  // Nothing listens there, and nothing connects: the agent refuses first.
  const std::string plan = WriteFile(dir, "plan.json", Plan("127.0.0.1:9", "", agent.listen(), 100));
  Outcome outcome =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + dir + "/report.json"}, dir);
  EXPECT_EQ(outcome.code, 3) << outcome.err;
  EXPECT_CONTAINS(outcome.err, "PERMISSION_DENIED");
  EXPECT_CONTAINS(outcome.err, "127.0.0.1:9 is outside --allow-targets=127.0.0.2/32");
  // No connection was opened: the report says the agent refused the run.
  nlohmann::json report =
      nlohmann::json::parse(testing::ReadFileOrEmpty(dir + "/report.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report\n" << outcome.err;
  EXPECT_EQ(report["outcome"], "refused") << report.dump();
  EXPECT_EQ(report["what_gave"][0]["limit"], "agent") << report.dump();
  EXPECT_CONTAINS(report["what_gave"][0]["detail"].get<std::string>(), "is outside --allow-targets");
  Stop(agent);
}

// Serving on a non-loopback address without a token or TLS is refused at
// start with the fix spelled out.
TEST(SecurityTest, UnauthenticatedNonLoopbackListenIsRefused) {
  const std::string dir = MakeTempDir("ft-security-listen");
  auto agent = Subprocess::Start({AGENT_BIN, "--listen=0.0.0.0:0"}, "agent", dir);
  ASSERT_TRUE(agent.ok());
  auto code = (*agent)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_CONTAINS((*agent)->ReadStderr(), "--listen=0.0.0.0:0 is not a loopback address");
  EXPECT_CONTAINS((*agent)->ReadStderr(), "use --token-file or --tls-cert/--tls-key/--tls-ca, or --insecure");
}

// A CA, a server certificate for 127.0.0.1 (IP subjectAltName: the
// coordinator dials an address) and a client certificate, made with the
// openssl command in `dir`. False when openssl fails.
bool MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'\n",
      "key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
      "openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj /CN=fourtuple-test-ca\n"
      "openssl req $key -keyout server.key -out server.csr -subj /CN=127.0.0.1\n"
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile server.ext -out server.pem\n"
      "openssl req $key -keyout client.key -out client.csr -subj /CN=fourtuple-coordinator\n"
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n"
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile client.ext -out client.pem\n"
      // A second CA whose client certificate the servers must refuse.
      "openssl req -x509 $key -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca\n"
      "openssl req $key -keyout other.key -out other.csr -subj /CN=intruder\n"
      "openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial "
      "-days 2 -extfile client.ext -out other.pem\n");
  auto openssl = Subprocess::Start({"/bin/sh", "-c", script}, "openssl", dir);
  if (!openssl.ok()) return false;
  auto code = (*openssl)->Wait(absl::Seconds(60));
  EXPECT_TRUE(code.ok() && *code == 0) << (*openssl)->Describe();
  return code.ok() && *code == 0;
}

std::vector<std::string> ServerTls(const std::string& dir) {
  return {"--tls-cert=" + dir + "/server.pem", "--tls-key=" + dir + "/server.key",
          "--tls-ca=" + dir + "/ca.pem"};
}

// Mutual TLS: a coordinator with a client certificate from the agents' CA
// runs the plan (and reads the target's counts over TLS); one without a
// client certificate, with a certificate from another CA, or in plaintext is
// refused with exit 3.
TEST(SecurityTest, MutualTls) {
  const std::string dir = MakeTempDir("ft-security-tls");
  ASSERT_TRUE(MakeCertificates(dir));
  std::vector<std::string> target_args = {"--listen=127.0.0.1:0", "--processes=1", "--control=127.0.0.1:0"};
  std::vector<std::string> agent_args = {"--listen=127.0.0.1:0", "--processes=1"};
  for (const std::string& flag : ServerTls(dir)) {
    target_args.push_back(flag);
    agent_args.push_back(flag);
  }
  Server target = StartServer(TARGET_SERVER_BIN, "target", target_args, dir);
  Server agent = StartServer(AGENT_BIN, "agent", agent_args, dir);
  ASSERT_FALSE(target.ready.is_null());
  ASSERT_FALSE(agent.ready.is_null());
  const std::string plan =
      WriteFile(dir, "plan.json", Plan(target.listen(), target.control(), agent.listen(), 500));

  const std::string report_path = dir + "/report.json";
  Outcome ok =
      RunCoordinator(COORDINATOR_BIN,
                     {"run", "--plan=" + plan, "--report=" + report_path, "--tls-ca=" + dir + "/ca.pem",
                      "--tls-cert=" + dir + "/client.pem", "--tls-key=" + dir + "/client.key"},
                     dir);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err << agent.process->Describe();
  nlohmann::json report = nlohmann::json::parse(testing::ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["totals"]["echo_verified"], 500);
  EXPECT_EQ(report["target"]["accepted"], 500) << report["target"].dump();

  const std::string refused = "agent " + agent.listen() + " is unreachable";
  Outcome no_cert =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--tls-ca=" + dir + "/ca.pem"}, dir);
  EXPECT_EQ(no_cert.code, 3) << no_cert.err;
  EXPECT_CONTAINS(no_cert.err, refused);
  Outcome other = RunCoordinator(COORDINATOR_BIN,
                                 {"probe", "--agents=" + agent.listen(), "--tls-ca=" + dir + "/ca.pem",
                                  "--tls-cert=" + dir + "/other.pem", "--tls-key=" + dir + "/other.key"},
                                 dir);
  EXPECT_EQ(other.code, 3) << other.err;
  EXPECT_CONTAINS(other.err, refused);
  Outcome plaintext = RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + plan}, dir);
  EXPECT_EQ(plaintext.code, 3) << plaintext.err;
  EXPECT_CONTAINS(plaintext.err, refused);
  // The coordinator checks the server too: a CA that did not sign it.
  Outcome wrong_ca =
      RunCoordinator(COORDINATOR_BIN,
                     {"probe", "--agents=" + agent.listen(), "--tls-ca=" + dir + "/other-ca.pem",
                      "--tls-cert=" + dir + "/client.pem", "--tls-key=" + dir + "/client.key"},
                     dir);
  EXPECT_EQ(wrong_ca.code, 3) << wrong_ca.err;

  // Half the TLS flags on a server: refused at start, exit 2.
  auto half = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--tls-cert=" + dir + "/server.pem"},
                                "half-agent", dir);
  ASSERT_TRUE(half.ok());
  auto code = (*half)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_CONTAINS((*half)->ReadStderr(), "--tls-cert, --tls-key and --tls-ca go together");
  Stop(agent);
  Stop(target);
}

// TargetControl with a token: a coordinator with the token gets the
// target's counts; without it GetStats is refused (UNAUTHENTICATED) and the
// report says so.
TEST(SecurityTest, TargetControlToken) {
  const std::string dir = MakeTempDir("ft-security-control");
  const std::string token = WriteFile(dir, "token", absl::StrCat(kToken, "\n"));
  Server target = StartServer(
      TARGET_SERVER_BIN, "target",
      {"--listen=127.0.0.1:0", "--processes=1", "--control=127.0.0.1:0", "--token-file=" + token}, dir);
  Server agent = StartServer(AGENT_BIN, "agent", {"--listen=127.0.0.1:0", "--processes=1"}, dir);
  ASSERT_FALSE(target.ready.is_null());
  ASSERT_FALSE(agent.ready.is_null());
  const std::string plan =
      WriteFile(dir, "plan.json", Plan(target.listen(), target.control(), agent.listen(), 500));

  Outcome with = RunCoordinator(
      COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + dir + "/with.json", "--token-file=" + token},
      dir);
  EXPECT_EQ(with.code, 0) << with.out << with.err;
  nlohmann::json report = nlohmann::json::parse(testing::ReadFileOrEmpty(dir + "/with.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  EXPECT_EQ(report["target"]["accepted"], 500) << report["target"].dump();

  Outcome without =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + dir + "/without.json"}, dir);
  report = nlohmann::json::parse(testing::ReadFileOrEmpty(dir + "/without.json"), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << without.err;
  EXPECT_FALSE(report["target"].contains("accepted")) << report["target"].dump();
  EXPECT_CONTAINS(report["target"].value("error", std::string()), "UNAUTHENTICATED");
  EXPECT_CONTAINS(report["target"].value("error", std::string()), "no token");

  // A non-loopback --control without token or TLS is refused at start.
  auto exposed = Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--control=0.0.0.0:0"},
                                   "exposed-target", dir);
  ASSERT_TRUE(exposed.ok());
  auto code = (*exposed)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_CONTAINS((*exposed)->ReadStderr(), "--control=0.0.0.0:0 is not a loopback address");
  EXPECT_CONTAINS((*exposed)->ReadStderr(),
                  "use --token-file or --tls-cert/--tls-key/--tls-ca, or --insecure");
  Stop(agent);
  Stop(target);
}

}  // namespace
}  // namespace fourtuple
