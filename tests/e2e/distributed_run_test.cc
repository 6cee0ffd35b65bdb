// The whole system end to end: a real target-server, real agents and the
// coordinator CLI, on loopback and inside a fresh network namespace.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::ScopedNetns;
using ::fourtuple::testing::Subprocess;
using json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);

// Processes of one run, all in the same (optional) network namespace.
class Lab {
 public:
  Lab(std::string dir, std::optional<std::string> netns) : dir_(std::move(dir)), netns_(std::move(netns)) {}

  // Starts target-server; returns its listen endpoints and control endpoint.
  void StartTarget(int processes, const std::vector<std::string>& listen) {
    std::string ready = dir_ + "/target.ready";
    auto p = Subprocess::Start(
        {TARGET_SERVER_BIN, "--listen=" + absl::StrJoin(listen, ","), absl::StrCat("--processes=", processes),
         "--control=127.0.0.1:0", "--ready-file=" + ready},
        "target-server", dir_, netns_);
    ASSERT_TRUE(p.ok()) << p.status();
    target_ = std::move(*p);
    auto j = target_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(j.ok()) << j.status();
    for (const auto& e : (*j)["listen"]) target_listen_.push_back(e.get<std::string>());
    target_control_ = (*j)["control"].get<std::string>();
  }

  // Starts an agent on a free loopback port; returns its endpoint.
  std::string StartAgent(const std::string& name, const std::vector<std::string>& extra_flags = {}) {
    std::string ready = dir_ + "/" + name + ".ready";
    std::vector<std::string> argv = {AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    auto p = Subprocess::Start(argv, name, dir_, netns_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return "";
    auto j = (*p)->WaitForReadyFile(ready, kStartTimeout);
    EXPECT_TRUE(j.ok()) << j.status();
    agents_.push_back(std::move(*p));
    if (!j.ok()) return "";
    return (*j)["listen"][0].get<std::string>();
  }

  // Runs the coordinator to completion; returns its exit code.
  int RunCoordinator(const json& plan, absl::Duration timeout) {
    std::string plan_path = dir_ + "/plan.json";
    FILE* f = fopen(plan_path.c_str(), "w");
    std::string text = plan.dump(2);
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
    auto p = Subprocess::Start({COORDINATOR_BIN, "run", "--plan=" + plan_path, "--report=" + report_path()},
                               "coordinator", dir_, netns_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    coordinator_ = std::move(*p);
    auto code = coordinator_->Wait(timeout);
    EXPECT_TRUE(code.ok()) << code.status() << "\n" << Diagnostics();
    return code.ok() ? *code : -1;
  }

  json Report() const {
    json j = json::parse(ReadFileOrEmpty(report_path()), nullptr, false);
    return j;
  }

  // The coordinator's whole stderr (Diagnostics shows its end only).
  std::string CoordinatorStderr() const { return coordinator_ ? coordinator_->ReadStderr() : ""; }

  // Every process's stderr, for failure messages.
  std::string Diagnostics() const {
    std::string out;
    if (coordinator_) out += coordinator_->Describe() + "\n" + coordinator_->ReadStdout() + "\n";
    for (const auto& a : agents_) out += a->Describe() + "\n";
    if (target_) out += target_->Describe() + "\n";
    return out;
  }

  // SIGTERM every server and assert each exits 0.
  void StopAll() {
    for (auto& a : agents_) a->Signal(SIGTERM);
    if (target_) target_->Signal(SIGTERM);
    for (auto& a : agents_) {
      auto code = a->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok() && *code == 0) << a->Describe();
    }
    if (target_) {
      auto code = target_->Wait(absl::Seconds(15));
      EXPECT_TRUE(code.ok() && *code == 0) << target_->Describe();
    }
  }

  std::string report_path() const { return dir_ + "/report.json"; }
  const std::vector<std::string>& target_listen() const { return target_listen_; }
  const std::string& target_control() const { return target_control_; }

 private:
  std::string dir_;
  std::optional<std::string> netns_;
  std::unique_ptr<Subprocess> target_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::string> target_listen_;
  std::string target_control_;
};

uint64_t SumValues(const json& object) {
  uint64_t sum = 0;
  for (const auto& [key, value] : object.items()) sum += value.get<uint64_t>();
  return sum;
}

json BasePlan(const Lab& lab, uint64_t connections) {
  return json{{"target", {{"endpoints", lab.target_listen()}, {"control", lab.target_control()}}},
              {"connections", connections},
              {"connect_rate", 0},
              {"max_in_flight", 1024},
              {"connect_timeout", "10s"},
              {"ramp_timeout", "120s"},
              {"hold", "1s"},
              {"echo", {{"rounds", 1}, {"payload_bytes", 32}, {"interval", "500ms"}, {"timeout", "10s"}}},
              {"report_interval", "500ms"},
              {"lease", "10s"}};
}

// Two agents with 8 source addresses each share 30,000 connections: each
// agent needs two worker processes under the 20,000-fd cap.
TEST(DistributedRunTest, TwoAgentsThirtyThousandConnectionsAgreeEverywhere) {
  std::string dir = MakeTempDir("ft-distributed");
  Lab lab(dir, std::nullopt);
  ASSERT_NO_FATAL_FAILURE(lab.StartTarget(2, {"127.0.0.1:0"}));
  // Both agents share this host's hostname; --host-label tells them apart.
  std::string agent1 = lab.StartAgent("agent1", {"--host-label=lab-a"});
  std::string agent2 = lab.StartAgent("agent2", {"--host-label=lab-b"});
  ASSERT_FALSE(agent1.empty() || agent2.empty()) << lab.Diagnostics();

  json plan = BasePlan(lab, 30000);
  plan["agents"] = json::array({
      {{"endpoint", agent1}, {"source_addresses", {"127.0.1.1-127.0.1.8"}}},
      {{"endpoint", agent2}, {"source_addresses", {"127.0.2.0/29"}}},
  });
  int code = lab.RunCoordinator(plan, absl::Seconds(240));
  json report = lab.Report();
  ASSERT_FALSE(report.is_discarded()) << "no report at " << lab.report_path() << "\n" << lab.Diagnostics();
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 4000) << "\n" << lab.Diagnostics();

  EXPECT_EQ(report["outcome"], "pass");
  const json& totals = report["totals"];
  EXPECT_EQ(totals["requested"], 30000);
  EXPECT_EQ(totals["established"], 30000);
  EXPECT_EQ(totals["failed"], 0);
  EXPECT_EQ(totals["peak_open"], 30000);
  EXPECT_EQ(totals["echo_verified"], 30000);
  EXPECT_EQ(totals["echo_failed"], 0);
  EXPECT_GT(totals["connect_rate"].get<double>(), 0);

  ASSERT_EQ(report["agents"].size(), 2u);
  uint64_t established_sum = 0, verified_sum = 0;
  const std::map<std::string, std::string> prefix = {{agent1, "127.0.1."}, {agent2, "127.0.2."}};
  const std::map<std::string, std::string> label = {{agent1, "lab-a"}, {agent2, "lab-b"}};
  for (const json& agent : report["agents"]) {
    EXPECT_EQ(agent["state"], "done");
    EXPECT_EQ(agent["host"], label.at(agent["endpoint"].get<std::string>()));
    EXPECT_EQ(agent["host_facts"]["hostname"], label.at(agent["endpoint"].get<std::string>()));
    EXPECT_EQ(agent["requested"], 15000);
    EXPECT_EQ(agent["established"], 15000);
    established_sum += agent["established"].get<uint64_t>();
    verified_sum += agent["echo_verified"].get<uint64_t>();
    const json& by_source = agent["by_source_address"];
    EXPECT_EQ(by_source.size(), 8u) << by_source.dump();
    EXPECT_EQ(SumValues(by_source), agent["established"].get<uint64_t>());
    const std::string& expected_prefix = prefix.at(agent["endpoint"].get<std::string>());
    for (const auto& [address, count] : by_source.items()) {
      EXPECT_EQ(address.rfind(expected_prefix, 0), 0u) << address;
      // Round-robin: every source gets 15000 / 8 (1875) connections.
      EXPECT_EQ(count.get<uint64_t>(), 1875u) << address;
    }
  }
  EXPECT_EQ(established_sum, totals["established"].get<uint64_t>());
  EXPECT_EQ(verified_sum, totals["echo_verified"].get<uint64_t>());

  // The server saw the same connections.
  EXPECT_EQ(report["target"]["open_at_peak"], 30000);
  EXPECT_GE(report["target"]["accepted"].get<uint64_t>(), 30000u);
  EXPECT_GE(report["timeline"].size(), 2u);
  EXPECT_GE(report["latency_ms"]["connect"]["max"].get<double>(),
            report["latency_ms"]["connect"]["p50"].get<double>());
  lab.StopAll();
}

// One source address, past one port range: in a fresh namespace the
// ephemeral range is the kernel default 32768-60999 (28,232 ports), so 40,000
// connections from ONE source address only work because the target listens
// on several ports and each (source, target) pair has its own range. Four
// ports keep each pair's range about a third full: the kernel's port search
// slows sharply as a range fills, and the test is about four-tuples, not that.
TEST(DistributedRunTest, OneSourceAddressPastOnePortRangeInAFreshNamespace) {
  if (!testing::CanCreateNetns())
    GTEST_SKIP() << "cannot create a network namespace here (needs root and ip(8))";
  auto ns = ScopedNetns::Create("ft-onesrc");
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_EQ((*ns)->Exec("set -- $(cat /proc/sys/net/ipv4/ip_local_port_range); test $1-$2 = 32768-60999"), 0)
      << "expected the kernel default port range in a fresh namespace";

  std::string dir = MakeTempDir("ft-onesrc");
  {
    Lab lab(dir, (*ns)->name());
    ASSERT_NO_FATAL_FAILURE(lab.StartTarget(3, {"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}));
    std::string agent = lab.StartAgent("agent");
    ASSERT_FALSE(agent.empty()) << lab.Diagnostics();
    json plan = BasePlan(lab, 40000);
    plan["agents"] = json::array({{{"endpoint", agent}, {"source_addresses", {"127.0.0.1"}}}});
    int code = lab.RunCoordinator(plan, absl::Seconds(300));
    json report = lab.Report();
    ASSERT_FALSE(report.is_discarded()) << lab.Diagnostics();
    EXPECT_EQ(code, 0) << report.dump(2).substr(0, 4000) << "\n" << lab.Diagnostics();
    EXPECT_EQ(report["totals"]["established"], 40000);
    EXPECT_EQ(report["totals"]["echo_verified"], 40000);
    EXPECT_EQ(report["agents"][0]["by_source_address"]["127.0.0.1"], 40000);
    EXPECT_EQ(report["target"]["open_at_peak"], 40000);
    lab.StopAll();
  }
}

// Inside a namespace, `ip netns exec` reads /etc/netns/NAME/hosts as
// /etc/hosts: names for a test without touching the machine's /etc/hosts.
// Removed again when this goes.
class NetnsHostsFile {
 public:
  NetnsHostsFile(const std::string& netns, const std::string& text) : dir_("/etc/netns/" + netns) {
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/hosts") << text;
  }
  ~NetnsHostsFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  NetnsHostsFile(const NetnsHostsFile&) = delete;
  NetnsHostsFile& operator=(const NetnsHostsFile&) = delete;

 private:
  std::string dir_;
};

// A dns:/// agent entry expands to one agent per address the name resolves
// to. Inside a namespace, `ip netns exec` reads /etc/netns/NAME/hosts as
// /etc/hosts, so one name can stand for two agents (127.0.0.1 and 127.0.0.2,
// same port) without touching the machine's /etc/hosts; "local:127.0.0.0/8"
// gives each agent its host's own loopback address.
TEST(DistributedRunTest, DnsNameExpandsToEveryAgentItResolvesTo) {
  if (!testing::CanCreateNetns())
    GTEST_SKIP() << "cannot create a network namespace here (needs root and ip(8))";
  auto ns = ScopedNetns::Create("ft-dns");
  ASSERT_TRUE(ns.ok()) << ns.status();
  NetnsHostsFile hosts((*ns)->name(), "127.0.0.1 localhost\n127.0.0.1 agents.lab\n127.0.0.2 agents.lab\n");

  std::string dir = MakeTempDir("ft-dns");
  Lab lab(dir, (*ns)->name());
  ASSERT_NO_FATAL_FAILURE(lab.StartTarget(1, {"127.0.0.1:0"}));
  const std::string first = lab.StartAgent("agent1");
  ASSERT_FALSE(first.empty()) << lab.Diagnostics();
  const std::string port = first.substr(first.rfind(':') + 1);
  const std::string second = lab.StartAgent("agent2", {"--listen=127.0.0.2:" + port});
  ASSERT_EQ(second, "127.0.0.2:" + port) << lab.Diagnostics();

  json plan = BasePlan(lab, 2000);
  plan["agents"] =
      json::array({{{"endpoint", "dns:///agents.lab:" + port}, {"source_addresses", {"local:127.0.0.0/8"}}}});
  int code = lab.RunCoordinator(plan, absl::Seconds(120));
  json report = lab.Report();
  ASSERT_FALSE(report.is_discarded()) << lab.Diagnostics();
  EXPECT_EQ(code, 0) << report.dump(2).substr(0, 4000) << "\n" << lab.Diagnostics();
  EXPECT_EQ(report["outcome"], "pass");
  EXPECT_EQ(report["totals"]["echo_verified"], 2000);
  ASSERT_EQ(report["agents"].size(), 2u) << report["agents"].dump(2);
  EXPECT_EQ(report["agents"][0]["endpoint"], first);
  EXPECT_EQ(report["agents"][1]["endpoint"], second);
  for (const json& agent : report["agents"]) {
    EXPECT_EQ(agent["established"], 1000);
    EXPECT_EQ(agent["by_source_address"], json({{"127.0.0.1", 1000}})) << agent.dump(2);
  }
  lab.StopAll();
}

// A name with hundreds of records becomes hundreds of agents; those that do
// not answer (all but two here: nothing listens on their address) are named
// together, each once, and the run stops before it starts (exit 3) within
// seconds, not one probe timeout per agent.
TEST(DistributedRunTest, DnsNameWithHundredsOfRecordsNamesEveryUnreachableAgentAtOnce) {
  if (!testing::CanCreateNetns())
    GTEST_SKIP() << "cannot create a network namespace here (needs root and ip(8))";
  auto ns = ScopedNetns::Create("ft-dns-many");
  ASSERT_TRUE(ns.ok()) << ns.status();
  constexpr int kRecords = 300;
  std::vector<std::string> addresses;
  std::string hosts = "127.0.0.1 localhost\n";
  for (int i = 0; i < kRecords; ++i) {
    addresses.push_back(absl::StrCat("127.0.", 7 + i / 250, ".", i % 250 + 1));
    absl::StrAppend(&hosts, addresses.back(), " agents.lab\n");
  }
  NetnsHostsFile hosts_file((*ns)->name(), hosts);

  std::string dir = MakeTempDir("ft-dns-many");
  Lab lab(dir, (*ns)->name());
  ASSERT_NO_FATAL_FAILURE(lab.StartTarget(1, {"127.0.0.1:0"}));
  const std::string first = lab.StartAgent("agent1", {"--listen=" + addresses[0] + ":0"});
  ASSERT_FALSE(first.empty()) << lab.Diagnostics();
  const std::string port = first.substr(first.rfind(':') + 1);
  ASSERT_EQ(lab.StartAgent("agent2", {"--listen=" + addresses[1] + ":" + port}), addresses[1] + ":" + port)
      << lab.Diagnostics();

  json plan = BasePlan(lab, 10 * kRecords);
  plan["agents"] =
      json::array({{{"endpoint", "dns:///agents.lab:" + port}, {"source_addresses", {"local:127.0.0.0/8"}}}});
  const absl::Time start = absl::Now();
  EXPECT_EQ(lab.RunCoordinator(plan, absl::Seconds(60)), 3) << lab.Diagnostics();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  const std::string err = lab.CoordinatorStderr();
  for (int i = 0; i < kRecords; ++i) {
    const std::string line = absl::StrCat("agent ", addresses[i], ":", port, " is unreachable");
    const size_t at = err.find(line);
    if (i < 2) {
      EXPECT_EQ(at, std::string::npos) << line;
    } else {
      EXPECT_NE(at, std::string::npos) << line << "\n" << lab.Diagnostics();
      EXPECT_EQ(err.find(line, at + 1), std::string::npos) << line << " named twice";
    }
  }
  lab.StopAll();
}

// A name that does not resolve stops the run before it starts, like an
// agent that does not answer (exit 3), naming the plan field.
TEST(DistributedRunTest, DnsNameThatDoesNotResolveExitsThree) {
  std::string dir = MakeTempDir("ft-dns-missing");
  Lab lab(dir, std::nullopt);
  ASSERT_NO_FATAL_FAILURE(lab.StartTarget(1, {"127.0.0.1:0"}));
  json plan = BasePlan(lab, 10);
  plan["agents"] =
      json::array({{{"endpoint", "dns:///no-such-agent.invalid:7000"}, {"source_addresses", {"127.0.1.1"}}}});
  EXPECT_EQ(lab.RunCoordinator(plan, absl::Seconds(60)), 3) << lab.Diagnostics();
  EXPECT_NE(
      lab.Diagnostics().find("plan.agents[0].endpoint: dns:///no-such-agent.invalid:7000: cannot resolve"),
      std::string::npos)
      << lab.Diagnostics();
  lab.StopAll();
}

}  // namespace
}  // namespace fourtuple
