// TLS on the connection, end to end: real agents speak TLS 1.3 to a real
// target-server terminating it (--listen-tls-cert/--listen-tls-key) and to a
// TLS server no one here wrote (stunnel4 from Debian, in front of a plain
// target-server), driven by the coordinator CLI. Certificates are made at
// test time with the openssl CLI: a throwaway CA, P-256 server certificates
// with subjectAltName, one expired, one from a CA the plan does not name.
// Each failure must come back as its own reason with the words OpenSSL gave.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
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

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr char kStunnel[] = "/usr/bin/stunnel4";

void WriteFile(const std::string& path, const std::string& text) {
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr) << path;
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
}

// Runs a shell command in `dir`; its output on failure.
void Shell(const std::string& dir, const std::string& command) {
  const std::string full = absl::StrCat("cd '", dir, "' && (", command, ") >>openssl.log 2>&1");
  ASSERT_EQ(std::system(full.c_str()), 0) << command << "\n" << ReadFileOrEmpty(dir + "/openssl.log");
}

// The certificates: ca.pem signs server.pem (target.test, 127.0.0.1),
// expired.pem (the same names, valid in 2020 only) and client.pem;
// other-ca.pem signs nothing used here.
void MakeCertificates(const std::string& dir) {
  const std::string p256 = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256";
  Shell(dir, p256 +
                 " -out ca.key && openssl req -x509 -new -key ca.key -subj /CN=fourtuple-test-ca -days 2 "
                 "-out ca.pem");
  Shell(dir, p256 +
                 " -out other-ca.key && openssl req -x509 -new -key other-ca.key -subj /CN=other-ca -days 2 "
                 "-out other-ca.pem");
  WriteFile(dir + "/server.ext", "subjectAltName=DNS:target.test,IP:127.0.0.1\n");
  WriteFile(dir + "/client.ext", "extendedKeyUsage=clientAuth\n");
  Shell(dir, p256 +
                 " -out server.key && openssl req -new -key server.key -subj /CN=target.test -out server.csr"
                 " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
                 " -extfile server.ext -out server.pem");
  Shell(dir, p256 +
                 " -out client.key && openssl req -new -key client.key -subj /CN=agent -out client.csr"
                 " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
                 " -extfile client.ext -out client.pem");
  // An expired certificate: `openssl ca` takes explicit dates.
  WriteFile(dir + "/ca.cnf",
            "[ca]\ndefault_ca=own\n[own]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
            "policy=any\ndefault_md=sha256\n[any]\ncommonName=supplied\n");
  Shell(dir,
        "touch index.txt && echo 01 > serial && openssl req -new -key server.key -subj /CN=target.test "
        "-out expired.csr && openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr "
        "-out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z -extfile server.ext -notext");
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("ft-tls"));
    MakeCertificates(*dir_);
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
    for (auto* process : {&stunnel_, &target_, &agent_}) {
      if (!*process) continue;
      (*process)->Signal(SIGTERM);
      auto code = (*process)->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok()) << (*process)->Describe();
    }
  }

  // Starts a target-server (TLS with `cert`, or plain when empty); its port.
  int StartTarget(const std::string& cert) {
    const std::string ready = *dir_ + "/target.ready";
    std::remove(ready.c_str());
    std::vector<std::string> argv = {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2",
                                     "--ready-file=" + ready};
    if (!cert.empty()) {
      argv.push_back("--listen-tls-cert=" + *dir_ + "/" + cert);
      argv.push_back("--listen-tls-key=" + *dir_ + "/server.key");
    }
    auto p = Subprocess::Start(argv, "target-server", *dir_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    target_ = std::move(*p);
    auto info = target_->WaitForReadyFile(ready, kStartTimeout);
    EXPECT_TRUE(info.ok()) << info.status() << "\n" << target_->Describe();
    if (!info.ok()) return -1;
    const std::string listen = (*info)["listen"][0].get<std::string>();
    return std::atoi(listen.substr(listen.rfind(':') + 1).c_str());
  }

  json Plan(int port, uint64_t connections, const json& tls, uint32_t rounds = 2) const {
    return json{
        {"target", {{"endpoints", {absl::StrCat("127.0.0.1:", port)}}, {"tls", tls}}},
        {"agents", {{{"endpoint", agent_endpoint_}, {"source_addresses", {"127.0.7.1-127.0.7.4"}}}}},
        {"connections", connections},
        {"max_in_flight", 128},
        {"connect_timeout", "10s"},
        {"hold", "500ms"},
        {"echo", {{"rounds", rounds}, {"interval", "100ms"}, {"timeout", "10s"}}},
        {"report_interval", "300ms"},
    };
  }

  // Runs the coordinator on `plan` (written into the certificates' folder,
  // so the plan names them relative to itself); the exit code.
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
    output_ = (*coordinator)->ReadStdout();
    diagnostics_ = output_ + (*coordinator)->Describe() + "\n" + agent_->Describe();
    EXPECT_TRUE(code.ok()) << code.status() << "\n" << diagnostics_;
    *report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
    return code.ok() ? *code : -1;
  }

  // Every connection failed with `reason`, whose first words contain `detail`.
  void ExpectAllFailed(const json& plan, const std::string& reason, const std::string& detail) {
    json report;
    EXPECT_EQ(Run(plan, &report), 1) << diagnostics_;
    ASSERT_FALSE(report.is_discarded()) << diagnostics_;
    const uint64_t requested = report["totals"]["requested"].get<uint64_t>();
    EXPECT_EQ(report["totals"]["established"], 0);
    EXPECT_EQ(report["failures"][reason], requested) << report["failures"].dump();
    EXPECT_NE(report["tls_failure_details"].value(reason, "").find(detail), std::string::npos)
        << report["tls_failure_details"].dump();
    // The summary names the reason, its cause and the words.
    EXPECT_NE(output_.find(reason), std::string::npos) << output_;
    EXPECT_NE(output_.find(detail), std::string::npos) << output_;
  }

  static std::string* dir_;
  std::unique_ptr<Subprocess> agent_;
  std::unique_ptr<Subprocess> target_;
  std::unique_ptr<Subprocess> stunnel_;
  std::string agent_endpoint_;
  std::string output_;
  std::string diagnostics_;
};
std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, ThreeThousandConnectionsEchoInsideTls13ToTargetServer) {
  constexpr uint64_t kConnections = 3000;
  const int port = StartTarget("server.pem");
  ASSERT_GT(port, 0);
  json report;
  const int code = Run(
      Plan(port, kConnections,
           {{"ca", "ca.pem"}, {"server_name", "target.test"}, {"alpn", {"echo/1"}}, {"min_version", "1.3"}}),
      &report);
  ASSERT_FALSE(report.is_discarded()) << diagnostics_;
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 3000) << "\n" << diagnostics_;
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["echo_verified"], 2 * kConnections);
  EXPECT_EQ(report["totals"]["tls_handshakes"], kConnections);
  EXPECT_EQ(report["totals"]["tls_resumed"], 0);
  const json& handshake = report["latency_ms"]["tls_handshake"];
  EXPECT_GT(handshake["p50"].get<double>(), 0.0) << handshake.dump();
  const json& negotiated = report["agents"][0]["tls"]["negotiated"];
  ASSERT_EQ(negotiated.size(), 1u) << negotiated.dump();
  EXPECT_EQ(negotiated.begin().key().rfind("TLSv1.3 TLS_", 0), 0u) << negotiated.dump();
  EXPECT_NE(negotiated.begin().key().find(" echo/1"), std::string::npos) << negotiated.dump();
  EXPECT_EQ(negotiated.begin().value(), kConnections);
  // The report's plan names files, never their contents.
  EXPECT_EQ(report["plan"]["target"]["tls"]["ca"], "ca.pem");
  EXPECT_EQ(report.dump().find("BEGIN"), std::string::npos);
  EXPECT_NE(output_.find("tls: 3,000 handshakes"), std::string::npos) << output_;
}

TEST_F(TlsTest, ResumeReusesSessionTickets) {
  constexpr uint64_t kConnections = 2000;
  const int port = StartTarget("server.pem");
  ASSERT_GT(port, 0);
  json report;
  const int code = Run(Plan(port, kConnections, {{"ca", "ca.pem"}, {"resume", true}}, 1), &report);
  ASSERT_FALSE(report.is_discarded()) << diagnostics_;
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 3000) << "\n" << diagnostics_;
  EXPECT_EQ(report["totals"]["tls_handshakes"], kConnections);
  // Only each worker's first handshakes (before a ticket came back) are full.
  EXPECT_GT(report["totals"]["tls_resumed"].get<uint64_t>(), kConnections / 2) << report["totals"].dump();
}

TEST_F(TlsTest, Tls12KeepsOpenSslsObjectsAndStillEchoes) {
  // TLS 1.2 is not detached (common/tls_record.h does TLS 1.3 records):
  // the echo goes through OpenSSL's SSL objects on both sides.
  constexpr uint64_t kConnections = 600;
  const int port = StartTarget("server.pem");
  ASSERT_GT(port, 0);
  json report;
  const int code = Run(Plan(port, kConnections, {{"ca", "ca.pem"}, {"max_version", "1.2"}}, 3), &report);
  ASSERT_FALSE(report.is_discarded()) << diagnostics_;
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 3000) << "\n" << diagnostics_;
  EXPECT_EQ(report["totals"]["echo_verified"], 3 * kConnections);
  const json& negotiated = report["agents"][0]["tls"]["negotiated"];
  ASSERT_EQ(negotiated.size(), 1u) << negotiated.dump();
  EXPECT_EQ(negotiated.begin().key().rfind("TLSv1.2 ", 0), 0u) << negotiated.dump();
}

TEST_F(TlsTest, WrongCaIsAVerifyFailure) {
  const int port = StartTarget("server.pem");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 200, {{"ca", "other-ca.pem"}, {"server_name", "target.test"}}),
                  "tls_verify_failed", "unable to get local issuer certificate");
}

TEST_F(TlsTest, WrongServerNameIsAVerifyFailure) {
  const int port = StartTarget("server.pem");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 200, {{"ca", "ca.pem"}, {"server_name", "wrong.test"}}), "tls_verify_failed",
                  "hostname mismatch");
}

TEST_F(TlsTest, ExpiredCertificateIsAVerifyFailure) {
  const int port = StartTarget("expired.pem");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 200, {{"ca", "ca.pem"}}), "tls_verify_failed", "certificate has expired");
}

TEST_F(TlsTest, PlainTcpTargetIsReportedAsNotTls) {
  const int port = StartTarget("");
  ASSERT_GT(port, 0);
  ExpectAllFailed(Plan(port, 200, {{"verify", false}}), "tls_not_tls", "no TLS record");
  EXPECT_NE(output_.find("plain TCP server"), std::string::npos) << output_;
}

TEST_F(TlsTest, StunnelInFrontOfAPlainTargetWithClientCertificates) {
  if (access(kStunnel, X_OK) != 0) {
    GTEST_SKIP() << kStunnel
                 << " is missing: install Debian's stunnel4 package (scripts/install-deps.sh does)";
  }
  const int plain_port = StartTarget("");
  ASSERT_GT(plain_port, 0);
  // stunnel cannot take port 0: a free one, then wait until it accepts.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  close(fd);
  const int tls_port = ntohs(addr.sin_port);
  // verify = 2: stunnel demands a client certificate signed by ca.pem.
  WriteFile(
      *dir_ + "/stunnel.conf",
      absl::StrCat("foreground = yes\npid =\nsyslog = no\ndebug = 3\n[echo]\naccept = 127.0.0.1:", tls_port,
                   "\nconnect = 127.0.0.1:", plain_port, "\ncert = ", *dir_, "/server.pem\nkey = ", *dir_,
                   "/server.key\nCAfile = ", *dir_, "/ca.pem\nverify = 2\n"));
  auto stunnel = Subprocess::Start({kStunnel, *dir_ + "/stunnel.conf"}, "stunnel", *dir_);
  ASSERT_TRUE(stunnel.ok()) << stunnel.status();
  stunnel_ = std::move(*stunnel);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  for (;;) {
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sin_port = htons(static_cast<uint16_t>(tls_port));
    const bool up = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(probe);
    if (up) break;
    ASSERT_TRUE(stunnel_->running()) << stunnel_->Describe();
    ASSERT_LT(absl::Now(), deadline) << "stunnel does not accept\n" << stunnel_->Describe();
    absl::SleepFor(absl::Milliseconds(50));
  }
  constexpr uint64_t kConnections = 400;  // stunnel runs a thread per connection
  json report;
  const int code = Run(Plan(tls_port, kConnections,
                            {{"ca", "ca.pem"},
                             {"server_name", "target.test"},
                             {"client_cert", "client.pem"},
                             {"client_key", "client.key"}}),
                       &report);
  ASSERT_FALSE(report.is_discarded()) << diagnostics_;
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 3000) << "\n" << diagnostics_ << stunnel_->Describe();
  EXPECT_EQ(report["totals"]["established"], kConnections);
  EXPECT_EQ(report["totals"]["echo_verified"], 2 * kConnections);
  EXPECT_EQ(report["totals"]["tls_handshakes"], kConnections);
  // Neither the key's bytes nor its PEM header anywhere.
  EXPECT_EQ(report.dump().find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(diagnostics_.find("PRIVATE KEY"), std::string::npos);
}

TEST_F(TlsTest, AMissingPemFileExits2NamingFieldAndFile) {
  json report;
  EXPECT_EQ(Run(Plan(9, 10, {{"ca", "no-such-ca.pem"}}), &report), 2) << diagnostics_;
  EXPECT_NE(diagnostics_.find("plan.target.tls.ca"), std::string::npos) << diagnostics_;
  EXPECT_NE(diagnostics_.find("no-such-ca.pem"), std::string::npos) << diagnostics_;
  EXPECT_EQ(Run(Plan(9, 10, {{"ca", "server.key"}}), &report), 2) << diagnostics_;
  EXPECT_NE(diagnostics_.find("server.key: no PEM certificate"), std::string::npos) << diagnostics_;
}

}  // namespace
}  // namespace fourtuple
