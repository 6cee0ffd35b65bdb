// Source addresses by the prefix: in a fresh network namespace,
// deploy/host/sources.sh anyip makes a whole prefix local with one route,
// the plan lists the prefix itself, and every connection binds its own
// address inside it (IPv4 under a local /15, IPv6 under a local /64 with
// IPV6_FREEBIND). The kernel's socket table is read to prove the sources
// are real, and the report must stay bounded (256 named addresses) while
// counting every address. Without the route, preflight refuses the plan and
// names the command that fixes it.
//
// The IPv6 run drives everything over IPv6: target-server, agent and the
// coordinator's control connections all on [::1].
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/coordinator_cli.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::Hostname;
using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::ScopedNetns;
using ::fourtuple::testing::Subprocess;
using ::fourtuple::testing::WritePlan;
using json = nlohmann::json;

const std::string kSourcesScript = std::string(SOURCE_DIR) + "/deploy/host/sources.sh";

json Plan(const std::string& target, const std::string& agent, const std::string& prefix,
          uint64_t connections) {
  return json{{"target", {{"endpoints", {target}}}},
              {"agents", {{{"endpoint", agent}, {"source_addresses", {prefix}}}}},
              {"connections", connections},
              {"max_in_flight", 256},
              {"connect_timeout", "10s"},
              {"ramp_timeout", "60s"},
              {"hold", "3s"},
              {"echo", {{"rounds", 1}, {"interval", "200ms"}, {"timeout", "10s"}}},
              {"report_interval", "250ms"},
              {"lease", "10s"}};
}

class AnyipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::CanCreateNetns()) GTEST_SKIP() << "cannot create a network namespace here (needs root)";
    auto ns = ScopedNetns::Create("ft-anyip");
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
    dir_ = MakeTempDir("ft-anyip");
  }

  void TearDown() override {
    for (auto* process : {&agent_, &target_}) {
      if (*process == nullptr) continue;
      (*process)->Signal(SIGTERM);
      EXPECT_TRUE((*process)->Wait(absl::Seconds(20)).ok()) << (*process)->Describe();
    }
  }

  // Starts target-server and agent in the namespace, listening on `loopback`
  // ("127.0.0.1" or "[::1]"); fills target_endpoint_ and agent_endpoint_.
  void StartProcesses(const std::string& loopback) {
    StartTarget(loopback, ns_->name());
    StartAgentListening(loopback, {});
  }

  void StartTarget(const std::string& address, const std::string& netns) {
    const std::string target_ready = dir_ + "/target.ready";
    auto target = Subprocess::Start(
        {TARGET_SERVER_BIN, "--listen=" + address + ":0", "--processes=1", "--ready-file=" + target_ready},
        "target-server", dir_, netns);
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = std::move(*target);
    auto target_info = target_->WaitForReadyFile(target_ready, absl::Seconds(30));
    ASSERT_TRUE(target_info.ok()) << target_info.status() << target_->Describe();
    target_endpoint_ = (*target_info)["listen"][0].get<std::string>();
  }

  void StartAgentListening(const std::string& loopback, const std::vector<std::string>& flags) {
    const std::string agent_ready = dir_ + "/agent.ready";
    std::vector<std::string> argv = {AGENT_BIN, "--listen=" + loopback + ":0", "--processes=2",
                                     "--ready-file=" + agent_ready};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto agent = Subprocess::Start(argv, "agent", dir_, ns_->name());
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    auto agent_info = agent_->WaitForReadyFile(agent_ready, absl::Seconds(30));
    ASSERT_TRUE(agent_info.ok()) << agent_info.status() << agent_->Describe();
    agent_endpoint_ = (*agent_info)["listen"][0].get<std::string>();
  }

  int Sources(const std::string& args) {
    return ns_->Exec(absl::StrCat(kSourcesScript, " ", args, " >>", dir_, "/sources.out 2>&1"));
  }

  // Runs the plan and, while its connections are held, counts the distinct
  // local addresses of the namespace's established sockets that match
  // `pattern` (a grep -E regex; ss reads them from the kernel): `expected`
  // of them must show up.
  json RunAndCountSources(const json& plan, const std::string& pattern, size_t expected) {
    const std::string path = WritePlan(dir_, "plan.json", plan.dump(2));
    const std::string report = dir_ + "/report.json";
    auto coordinator = Subprocess::Start({COORDINATOR_BIN, "run", "--plan=" + path, "--report=" + report},
                                         "coordinator", dir_, ns_->name());
    EXPECT_TRUE(coordinator.ok()) << coordinator.status();
    if (!coordinator.ok()) return json();
    const std::string count_file = dir_ + "/sources.count";
    // Polls for up to 60 s; keeps the largest count seen.
    const std::string script = dir_ + "/count_sources.sh";
    std::ofstream(script) << "best=0\nfor i in $(seq 1 300); do\n"
                          << "  n=$(ss -Htn state established | awk '{print $3}' | sed 's/:[0-9]*$//' | "
                          << "sort -u | grep -Ec '" << pattern << "')\n"
                          << "  [ $n -gt $best ] && best=$n\n  [ $best -ge " << expected << " ] && break\n"
                          << "  sleep 0.2\ndone\necho $best >" << count_file << "\n";
    ns_->Exec("sh " + script);
    auto code = (*coordinator)->Wait(absl::Seconds(120));
    EXPECT_TRUE(code.ok() && *code == 0) << (*coordinator)->Describe() << (*coordinator)->ReadStderr();
    EXPECT_EQ(std::stoul("0" + ReadFileOrEmpty(count_file)), expected)
        << "distinct source addresses the kernel showed";
    json parsed = json::parse(ReadFileOrEmpty(report), nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << "no report at " << report;
    return parsed;
  }

  std::unique_ptr<ScopedNetns> ns_;
  std::string dir_;
  std::unique_ptr<Subprocess> target_;
  std::unique_ptr<Subprocess> agent_;
  std::string target_endpoint_;
  std::string agent_endpoint_;
};

// Checks one agent's per-address fields: `connections` over as many
// addresses, one each, 256 of them named.
void ExpectOneConnectionPerAddress(const json& report, uint64_t connections) {
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["outcome"], "pass") << report.dump(2);
  const json& agent = report["agents"][0];
  EXPECT_EQ(agent["established"], connections);
  EXPECT_EQ(agent["echo_verified"], connections);
  EXPECT_EQ(agent["source_addresses_used"], connections);
  EXPECT_EQ(agent["source_address_summary"],
            (json{{"addresses", connections}, {"min", 1}, {"median", 1}, {"max", 1}}));
  EXPECT_EQ(agent["by_source_address"].size(), 256u);
  EXPECT_TRUE(agent["failed_by_source_address"].empty());
}

TEST_F(AnyipTest, Ipv4PrefixGivesEveryConnectionItsOwnAddress) {
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0) << ReadFileOrEmpty(dir_ + "/sources.out");
  StartProcesses("127.0.0.1");
  json plan = Plan(target_endpoint_, agent_endpoint_, "198.18.0.0/15", 3000);
  plan["agents"][0]["connections_per_source_address"] = 1;
  json report = RunAndCountSources(plan, "^198[.]1[89][.]", 3000);
  ExpectOneConnectionPerAddress(report, 3000);
}

TEST_F(AnyipTest, Ipv6PrefixEndToEndOverIpv6) {
  ASSERT_EQ(Sources("anyip add lo 2001:db8:7::/64"), 0) << ReadFileOrEmpty(dir_ + "/sources.out");
  StartProcesses("[::1]");
  ASSERT_EQ(target_endpoint_.rfind("[::1]:", 0), 0u) << target_endpoint_;
  ASSERT_EQ(agent_endpoint_.rfind("[::1]:", 0), 0u) << agent_endpoint_;
  json report = RunAndCountSources(Plan(target_endpoint_, agent_endpoint_, "2001:db8:7::/64", 2000),
                                   "^\\[2001:db8:7:", 2000);
  ExpectOneConnectionPerAddress(report, 2000);
}

// connections_per_source_address fills each address first: 1,000
// connections at 10 per address use 100 addresses of the /15.
TEST_F(AnyipTest, ConnectionsPerSourceAddressFillsEachAddressFirst) {
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0);
  StartProcesses("127.0.0.1");
  json plan = Plan(target_endpoint_, agent_endpoint_, "198.18.0.0/15", 1000);
  plan["agents"][0]["connections_per_source_address"] = 10;
  plan["hold"] = "10s";  // the kernel table is read while they are held: time for it under load
  json report = RunAndCountSources(plan, "^198[.]1[89][.]", 100);
  ASSERT_TRUE(report.is_object());
  const json& agent = report["agents"][0];
  EXPECT_EQ(agent["established"], 1000);
  EXPECT_EQ(agent["source_address_summary"],
            (json{{"addresses", 100}, {"min", 10}, {"median", 10}, {"max", 10}}));
  EXPECT_EQ(agent["by_source_address"].size(), 100u);
  EXPECT_EQ(agent["by_source_address"]["198.18.0.99"], 10);
}

// Without the local route the prefix binds nowhere: preflight refuses the
// plan (exit 3) and names both fixes; the agent is never given the run.
TEST_F(AnyipTest, PreflightNamesTheFixForAPrefixWithoutLocalRoute) {
  StartProcesses("127.0.0.1");
  const std::string path =
      WritePlan(dir_, "plan.json", Plan(target_endpoint_, agent_endpoint_, "198.18.0.0/15", 100).dump(2));
  Outcome run =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir_, absl::Seconds(60), ns_->name());
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err,
                  absl::StrCat("agent ", agent_endpoint_,
                               ": source prefix 198.18.0.0/15 is inside no local route of host ", Hostname(),
                               ": make the prefix local (deploy/host/sources.sh anyip add lo "
                               "198.18.0.0/15, or ip route add local 198.18.0.0/15 dev lo)"));
  EXPECT_EQ(agent_->ReadStderr().find("connections to"), std::string::npos) << agent_->ReadStderr();

  // With the route the same plan runs.
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0);
  Outcome again =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir_, absl::Seconds(90), ns_->name());
  EXPECT_EQ(again.code, 0) << again.err;
}

// The target on another host (namespace) that has no route back to the
// agent's prefix: the agent's probe connection from inside the prefix gets no
// answer, and the run is refused up front with that sentence, not run into
// a connect timeout per connection. With the route, the same plan runs.
TEST_F(AnyipTest, ReturnPathProbeNamesATargetWithoutARouteBack) {
  auto target_host = ScopedNetns::Create("ft-anyip-t");
  ASSERT_TRUE(target_host.ok()) << target_host.status();
  ASSERT_EQ(
      ns_->Exec(absl::StrCat("ip link add veth-a type veth peer name veth-t netns ", (*target_host)->name(),
                             " && ip addr add 10.77.0.1/24 dev veth-a && ip link set veth-a up")),
      0);
  ASSERT_EQ((*target_host)
                ->Exec("ip link set lo up && ip addr add 10.77.0.2/24 dev veth-t && "
                       "ip link set veth-t up"),
            0);
  ASSERT_EQ(Sources("anyip add lo 198.18.0.0/15"), 0);
  StartTarget("10.77.0.2", (*target_host)->name());
  StartAgentListening("127.0.0.1", {"--allow-targets=10.77.0.0/24"});
  const std::string path =
      WritePlan(dir_, "plan.json", Plan(target_endpoint_, agent_endpoint_, "198.18.0.0/15", 200).dump(2));
  Outcome run =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir_, absl::Seconds(90), ns_->name());
  EXPECT_NE(run.code, 0) << run.err;
  EXPECT_CONTAINS(run.err,
                  absl::StrCat("(inside 198.18.0.0/15) to ", target_endpoint_,
                               " got no answer in 3s: the target has no route back to 198.18.0.0/15"));

  ASSERT_EQ((*target_host)->Exec("ip route add 198.18.0.0/15 via 10.77.0.1"), 0);
  Outcome again =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir_, absl::Seconds(90), ns_->name());
  EXPECT_EQ(again.code, 0) << again.err;
  // Stopped here: the namespace goes when this test ends.
  target_->Signal(SIGTERM);
  EXPECT_TRUE(target_->Wait(absl::Seconds(20)).ok());
  target_.reset();
}

}  // namespace
}  // namespace fourtuple
