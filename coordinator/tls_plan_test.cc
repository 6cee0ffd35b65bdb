#include "coordinator/tls_plan.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "coordinator/plan.h"
#include "coordinator/tls_settings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TlsPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ft-tls-plan-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    // Real PEM files from the openssl CLI: a self-signed certificate and
    // its key, and a second key that does not match it.
    const std::string command =
        "cd " + dir_ +
        " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout key.pem -out cert.pem -subj /CN=t -days 1 >/dev/null 2>&1"
        " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
        "-out other.key >/dev/null 2>&1 && echo garbage > junk.pem && touch empty.pem";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  absl::StatusOr<TlsPlan> Parse(const std::string& text) {
    return ParseTlsPlan(nlohmann::json::parse(text), dir_);
  }
  std::string ErrorOf(const std::string& text) {
    absl::StatusOr<TlsPlan> tls = Parse(text);
    EXPECT_FALSE(tls.ok()) << "accepted: " << text;
    if (tls.ok()) return "";
    EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(tls.status().message());
  }

  std::string dir_;
};

TEST_F(TlsPlanTest, DefaultsAndEveryField) {
  absl::StatusOr<TlsPlan> empty = Parse("{}");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->verify);
  EXPECT_FALSE(empty->resume);
  EXPECT_TRUE(empty->ca_pem.empty());

  absl::StatusOr<TlsPlan> full = Parse(R"({"ca": "cert.pem", "server_name": "target.test", "verify": true,
      "alpn": ["h2", "http/1.1"], "min_version": "1.2", "max_version": "1.3", "resume": true,
      "client_cert": "cert.pem", "client_key": "key.pem"})");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_THAT(full->ca_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(full->client_key_pem, HasSubstr("PRIVATE KEY"));
  v1::TlsClientSettings settings = TlsSettingsOf(*full);
  EXPECT_EQ(settings.min_version(), 0x0303u);
  EXPECT_EQ(settings.max_version(), 0x0304u);
  EXPECT_EQ(settings.alpn_size(), 2);
  EXPECT_EQ(settings.server_name(), "target.test");
  EXPECT_TRUE(settings.resume());
  // Written back with file names, never the contents.
  const std::string written = TlsPlanToJson(*full).dump();
  EXPECT_THAT(written, HasSubstr("\"client_key\":\"key.pem\""));
  EXPECT_THAT(written, Not(HasSubstr("BEGIN")));
}

TEST_F(TlsPlanTest, MissingUnreadableOrMalformedPemNamesFieldAndFile) {
  std::string error = ErrorOf(R"({"ca": "nope.pem"})");
  EXPECT_THAT(error, HasSubstr("plan.target.tls.ca"));
  EXPECT_THAT(error, HasSubstr("nope.pem"));
  error = ErrorOf(R"({"ca": "junk.pem"})");
  EXPECT_THAT(error, HasSubstr("plan.target.tls.ca: " + dir_ + "/junk.pem: no PEM certificate"));
  error = ErrorOf(R"({"ca": "empty.pem"})");
  EXPECT_THAT(error, HasSubstr("empty.pem"));
  error = ErrorOf(R"({"ca": "/"})");
  EXPECT_THAT(error, HasSubstr("plan.target.tls.ca"));
  error = ErrorOf(R"({"client_cert": "cert.pem", "client_key": "cert.pem"})");
  EXPECT_THAT(error, HasSubstr("plan.target.tls.client_key: " + dir_ + "/cert.pem: no PEM private key"));
  error = ErrorOf(R"({"client_cert": "cert.pem", "client_key": "other.key"})");
  EXPECT_THAT(error, HasSubstr("other.key is not the key of cert.pem"));
  // Never the key's bytes, whatever went wrong.
  EXPECT_THAT(error, Not(HasSubstr("BEGIN")));
  error = ErrorOf(R"({"client_cert": "cert.pem"})");
  EXPECT_THAT(error, HasSubstr("plan.target.tls.client_key: missing"));
}

TEST_F(TlsPlanTest, VersionsAndAlpnAreChecked) {
  EXPECT_THAT(ErrorOf(R"({"min_version": "1.3", "max_version": "1.2"})"),
              HasSubstr("plan.target.tls.min_version: \"1.3\" is above max_version \"1.2\""));
  EXPECT_THAT(ErrorOf(R"({"min_version": "1.1"})"), HasSubstr("expected \"1.2\" or \"1.3\", got \"1.1\""));
  EXPECT_THAT(ErrorOf(R"({"max_version": 1.3})"), HasSubstr("plan.target.tls.max_version"));
  EXPECT_THAT(ErrorOf(R"({"alpn": ["h2", ""]})"),
              HasSubstr("plan.target.tls.alpn[1]: expected a protocol name"));
  EXPECT_THAT(ErrorOf(R"({"alpn": "h2"})"), HasSubstr("plan.target.tls.alpn"));
  EXPECT_THAT(ErrorOf(R"({"alpn": ["h2", "h2"]})"), HasSubstr("listed twice"));
  EXPECT_THAT(ErrorOf(R"({"verify": "yes"})"), HasSubstr("plan.target.tls.verify: expected true or false"));
  EXPECT_THAT(ErrorOf(R"({"server_name": ""})"), HasSubstr("plan.target.tls.server_name"));
  EXPECT_THAT(ErrorOf(R"({"verfy": false})"), HasSubstr("verify"));
  EXPECT_THAT(ErrorOf(R"({"ca": "cert.pem", "verify": false})"), HasSubstr("verify: false"));
  EXPECT_THAT(ErrorOf("[]"), HasSubstr("plan.target.tls"));
}

TEST_F(TlsPlanTest, PlanFilesAreRelativeToThePlansFolder) {
  const std::string plan_path = dir_ + "/plan.json";
  FILE* file = std::fopen(plan_path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(R"({"target": {"endpoints": ["127.0.0.1:9443"], "tls": {"ca": "cert.pem"}},
    "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}], "connections": 10})",
             file);
  std::fclose(file);
  // From another working directory: the plan's folder is what counts.
  absl::StatusOr<Plan> plan = LoadPlan(plan_path);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->tls.has_value());
  EXPECT_THAT(plan->tls->ca_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_EQ(PlanToJson(*plan)["target"]["tls"]["ca"], "cert.pem");
}

}  // namespace
}  // namespace fourtuple::coordinator
