// deploy/netns-lab/lab.sh end to end: a lab of a laptop, a target host and
// three agent hosts, each its own network namespace, runs 60,000 connections;
// the report must show three distinct hosts, each sending only from its own
// 198.18 aliases, and the lab must leave no namespace behind.
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

const std::string kLabScript = std::string(SOURCE_DIR) + "/deploy/netns-lab/lab.sh";

std::string CommandOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

// lab.sh names its namespaces ftlab<its PID>-...
std::string LeftoverNamespaces(pid_t lab_pid) {
  std::string prefix = absl::StrCat("ftlab", lab_pid, "-");
  std::string leftover;
  for (absl::string_view line : absl::StrSplit(CommandOutput("ip netns list 2>/dev/null"), '\n')) {
    if (absl::StartsWith(line, prefix)) absl::StrAppend(&leftover, line, "\n");
  }
  return leftover;
}

std::unique_ptr<Subprocess> StartLab(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv = {"/usr/bin/env", absl::StrCat("FOURTUPLE_BIN=", BIN_DIR), "bash",
                                   kLabScript};
  argv.insert(argv.end(), args.begin(), args.end());
  auto lab = Subprocess::Start(argv, "lab", dir);
  EXPECT_TRUE(lab.ok()) << lab.status();
  return lab.ok() ? std::move(*lab) : nullptr;
}

TEST(NetnsLabTest, ThreeAgentHostsSixtyThousandConnections) {
  if (!testing::CanCreateNetns()) {
    GTEST_SKIP() << "cannot create network namespaces here (needs root and ip(8)); lab.sh not exercised";
  }
  std::string dir = MakeTempDir("ft-netnslab");
  std::string report_path = dir + "/report.json";
  auto lab = StartLab({"--agents", "3", "--connections", "60000", "--report", report_path}, dir);
  ASSERT_NE(lab, nullptr);
  auto code = lab->Wait(absl::Seconds(540));
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << lab->Describe();
  std::string output = lab->ReadStdout();
  EXPECT_EQ(*code, 0) << output << "\n" << lab->Describe();
  EXPECT_EQ(LeftoverNamespaces(lab->pid()), "") << "namespaces left behind";
  EXPECT_NE(output.find("lab.sh: report " + report_path + " (coordinator exit 0)"), std::string::npos)
      << output;

  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report at " << report_path << "\n" << output << lab->Describe();
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["requested"], 60000);
  EXPECT_EQ(report["totals"]["established"], 60000);
  EXPECT_EQ(report["totals"]["echo_verified"], 60000);
  EXPECT_EQ(report["totals"]["failed"], 0);
  EXPECT_EQ(report["target"]["open_at_peak"], 60000);

  ASSERT_EQ(report["agents"].size(), 3u) << report["agents"].dump(2);
  std::set<std::string> hosts;
  for (const json& agent : report["agents"]) {
    // Agent host i listens on 198.18.i.1 and has the aliases 198.18.i.2-9.
    std::string endpoint = agent["endpoint"].get<std::string>();
    ASSERT_EQ(endpoint.rfind("198.18.", 0), 0u) << endpoint;
    std::string host_octet = endpoint.substr(7, endpoint.find('.', 7) - 7);
    std::string label = "lab-agent" + host_octet;
    EXPECT_EQ(endpoint, absl::StrCat("198.18.", host_octet, ".1:7000"));
    EXPECT_EQ(agent["host"], label);
    EXPECT_EQ(agent["host_facts"]["hostname"], label);
    hosts.insert(agent["host"].get<std::string>());

    std::set<std::string> aliases;
    for (int last = 2; last <= 9; ++last) aliases.insert(absl::StrCat("198.18.", host_octet, ".", last));
    std::set<std::string> local;
    for (const json& address : agent["host_facts"]["local_addresses"])
      local.insert(address.get<std::string>());
    const json& by_source = agent["by_source_address"];
    EXPECT_EQ(by_source.size(), 8u) << by_source.dump();
    uint64_t sum = 0;
    for (const auto& [address, count] : by_source.items()) {
      EXPECT_TRUE(aliases.count(address)) << label << " sent from " << address << ", not one of its aliases";
      EXPECT_TRUE(local.count(address)) << address << " is not an address of " << label << "'s namespace";
      sum += count.get<uint64_t>();
    }
    EXPECT_EQ(sum, 20000u) << label;
    EXPECT_EQ(agent["echo_verified"], 20000) << label;
  }
  EXPECT_EQ(hosts.size(), 3u);
}

// --ipv6: the lab over IPv6, each agent host owning a /64 (one local route)
// that the target host routes back through it. Every connection comes from
// its own address inside its agent host's /64, and every program talks IPv6.
TEST(NetnsLabTest, Ipv6AgentHostsEachWithARoutedSlash64) {
  if (!testing::CanCreateNetns()) {
    GTEST_SKIP() << "cannot create network namespaces here (needs root and ip(8)); lab.sh not exercised";
  }
  std::string dir = MakeTempDir("ft-netnslab6");
  std::string report_path = dir + "/report.json";
  auto lab = StartLab({"--agents", "2", "--connections", "6000", "--ipv6", "--report", report_path}, dir);
  ASSERT_NE(lab, nullptr);
  auto code = lab->Wait(absl::Seconds(300));
  ASSERT_TRUE(code.ok()) << code.status() << "\n" << lab->Describe();
  std::string output = lab->ReadStdout();
  EXPECT_EQ(*code, 0) << output << "\n" << lab->Describe();
  EXPECT_EQ(LeftoverNamespaces(lab->pid()), "") << "namespaces left behind";

  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report at " << report_path << "\n" << output << lab->Describe();
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["established"], 6000);
  EXPECT_EQ(report["totals"]["echo_verified"], 6000);
  ASSERT_EQ(report["agents"].size(), 2u) << report["agents"].dump(2);
  for (int i = 1; i <= 2; ++i) {
    const json& agent = report["agents"][i - 1];
    EXPECT_EQ(agent["endpoint"], absl::StrCat("[2001:db8:ff::1:", i, "]:7000"));
    EXPECT_EQ(agent["host"], absl::StrCat("lab-agent", i));
    EXPECT_EQ(agent["established"], 3000);
    EXPECT_EQ(agent["source_addresses_used"], 3000);
    EXPECT_EQ(agent["source_address_summary"]["max"], 1);
    const std::string own = absl::StrCat("2001:db8:10", i, ":");  // 2001:db8:10i::/64
    EXPECT_EQ(agent["by_source_address"].size(), 256u);
    for (const auto& [address, count] : agent["by_source_address"].items()) {
      EXPECT_EQ(address.rfind(own, 0), 0u) << "agent " << i << " sent from " << address;
    }
    bool route_reported = false;
    for (const json& route : agent["host_facts"]["local_routes"]) {
      route_reported = route_reported || route == absl::StrCat("2001:db8:10", i, "::/64");
    }
    EXPECT_TRUE(route_reported) << agent["host_facts"].dump();
  }
}

TEST(NetnsLabTest, BadArgumentsExitTwoAndBuildNothing) {
  std::string dir = MakeTempDir("ft-netnslab-args");
  auto lab = StartLab({"--agents", "0", "--connections", "10"}, dir);
  ASSERT_NE(lab, nullptr);
  auto code = lab->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  EXPECT_NE(lab->ReadStderr().find("--agents must be a whole number 1..250 (got '0')"), std::string::npos)
      << lab->ReadStderr();

  lab = StartLab({"--agents", "2", "--connections", "10", "--frobnicate"}, dir);
  ASSERT_NE(lab, nullptr);
  code = lab->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  EXPECT_NE(lab->ReadStderr().find("unknown argument '--frobnicate'"), std::string::npos)
      << lab->ReadStderr();
}

}  // namespace
}  // namespace fourtuple
