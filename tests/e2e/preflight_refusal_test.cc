// Capacity preflight against real agents: a plan over an agent's capacity is
// refused with exit 3 before anything connects, and the message names the
// binding limit and the number that fixes it. One test per limit a user
// meets first (ports, fds, a source address the host does not have), and
// --force, which runs the plan anyway.
//
// Hosts are real: the ports cases run in a fresh network namespace (its
// ephemeral range is the kernel default, or one the test sets there), the
// fd case starts the agent under prlimit.
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
using ::fourtuple::testing::StartAgent;
using ::fourtuple::testing::StartedAgent;
using ::fourtuple::testing::Subprocess;
using ::fourtuple::testing::WritePlan;
using json = nlohmann::json;

json Plan(const std::string& target, const std::string& agent, const std::vector<std::string>& sources,
          uint64_t connections) {
  return json{{"target", {{"endpoints", {target}}}},
              {"agents", {{{"endpoint", agent}, {"source_addresses", sources}}}},
              {"connections", connections},
              {"max_in_flight", 64},
              {"connect_timeout", "5s"},
              {"ramp_timeout", "30s"},
              {"hold", "500ms"},
              {"echo", {{"rounds", 1}, {"interval", "200ms"}, {"timeout", "5s"}}},
              {"report_interval", "200ms"},
              {"lease", "5s"}};
}

void StopAgent(StartedAgent& agent) {
  if (!agent.process) return;
  agent.process->Signal(SIGTERM);
  auto code = agent.process->Wait(absl::Seconds(15));
  EXPECT_TRUE(code.ok() && *code == 0) << agent.process->Describe();
}

// A refused run still writes its report: outcome "refused", and what gave.
void ExpectRefusedReport(const std::string& path, const std::string& limit, const std::string& stderr_text) {
  json report = json::parse(ReadFileOrEmpty(path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report at " << path;
  EXPECT_EQ(report["outcome"], "refused") << report.dump();
  ASSERT_TRUE(report["what_gave"].is_array() && !report["what_gave"].empty()) << report.dump();
  EXPECT_EQ(report["what_gave"][0]["limit"], limit) << report.dump();
  EXPECT_FALSE(report["preflight_errors"].empty()) << report.dump();
  EXPECT_CONTAINS(stderr_text, absl::StrCat("what gave: ", limit, "; report: ", path));
}

// An agent busy with another run refuses the run after preflight passed:
// the refused run still writes its report, naming the agent.
TEST(PreflightRefusalTest, BusyAgentRefusalWritesTheReport) {
  const std::string dir = MakeTempDir("ft-pf-busy");
  const std::string target_ready = dir + "/target.ready";
  auto target = Subprocess::Start(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--ready-file=" + target_ready}, "target",
      dir);
  ASSERT_TRUE(target.ok()) << target.status();
  auto target_json = (*target)->WaitForReadyFile(target_ready, absl::Seconds(20));
  ASSERT_TRUE(target_json.ok()) << target_json.status();
  const std::string target_endpoint = (*target_json)["listen"][0].get<std::string>();
  StartedAgent agent = StartAgent({AGENT_BIN}, "agent", dir);
  ASSERT_FALSE(agent.endpoint.empty());

  json busy_plan = Plan(target_endpoint, agent.endpoint, {"127.0.1.1"}, 10);
  busy_plan["hold"] = "60s";
  const std::string first_plan = WritePlan(dir, "first.json", busy_plan.dump(2));
  auto first = Subprocess::Start({COORDINATOR_BIN, "run", "--plan=" + first_plan,
                                  "--report=" + dir + "/first-report.json", "--run-id=holding-run"},
                                 "first", dir);
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && (*first)->ReadStderr().find(" ready after ") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE((*first)->ReadStderr().find(" ready after "), std::string::npos) << (*first)->Describe();

  const std::string plan =
      WritePlan(dir, "plan.json", Plan(target_endpoint, agent.endpoint, {"127.0.1.2"}, 10).dump(2));
  const std::string report_path = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report_path}, dir,
                               absl::Seconds(30));
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, "agent is busy with run holding-run");
  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << "no report at " << report_path << "\n" << run.err;
  EXPECT_EQ(report["outcome"], "refused") << report.dump();
  ASSERT_TRUE(report["what_gave"].is_array() && !report["what_gave"].empty()) << report.dump();
  EXPECT_EQ(report["what_gave"][0]["limit"], "agent") << report.dump();
  EXPECT_CONTAINS(report["what_gave"][0]["detail"].get<std::string>(), "agent " + agent.endpoint);
  EXPECT_CONTAINS(report["what_gave"][0]["detail"].get<std::string>(), "busy");
  EXPECT_CONTAINS(run.err, "what gave: agent (agent " + agent.endpoint);
  EXPECT_CONTAINS(run.err, "report: " + report_path);

  (*first)->Signal(SIGINT);
  EXPECT_TRUE((*first)->Wait(absl::Seconds(30)).ok()) << (*first)->Describe();
  StopAgent(agent);
  (*target)->Signal(SIGTERM);
  EXPECT_TRUE((*target)->Wait(absl::Seconds(20)).ok());
}

// 40,000 connections to one endpoint from one source address do not fit the
// default ephemeral range (28,232 ports): two source addresses are needed.
TEST(PreflightRefusalTest, PortsNeedAnotherSourceAddress) {
  if (!testing::CanCreateNetns()) GTEST_SKIP() << "cannot create a network namespace here";
  auto ns = ScopedNetns::Create("ft-pf-ports");
  ASSERT_TRUE(ns.ok()) << ns.status();
  ASSERT_EQ((*ns)->Exec("set -- $(cat /proc/sys/net/ipv4/ip_local_port_range); test $1-$2 = 32768-60999"), 0)
      << "expected the kernel default port range in a fresh namespace";
  const std::string dir = MakeTempDir("ft-pf-ports");
  StartedAgent agent = StartAgent({AGENT_BIN}, "agent", dir, (*ns)->name());
  ASSERT_FALSE(agent.endpoint.empty());

  const std::string plan =
      WritePlan(dir, "plan.json", Plan("127.0.0.1:9", agent.endpoint, {"127.0.1.1"}, 40000).dump(2));
  const std::string report = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report}, dir,
                               absl::Seconds(30), (*ns)->name());
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, absl::StrCat("agent ", agent.endpoint,
                                        ": 40,000 connections to 1 endpoint from 1 source address need at "
                                        "least 2 source addresses (28,232 ports each in 32768\xE2\x80\x93"
                                        "60999): add 1 more, or widen net.ipv4.ip_local_port_range, or add "
                                        "a target port"));
  EXPECT_CONTAINS(run.err, "ports (over by 11,768)");  // the table names the binding limit
  EXPECT_CONTAINS(run.err, "preflight failed; --force runs the plan anyway");
  ExpectRefusedReport(report, "ports", run.err);

  Outcome preflight =
      RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + plan}, dir, absl::Seconds(30), (*ns)->name());
  EXPECT_EQ(preflight.code, 3) << preflight.err;
  EXPECT_CONTAINS(preflight.out, "ports (over by 11,768)");
  EXPECT_CONTAINS(preflight.err, "need at least 2 source addresses");
  StopAgent(agent);
}

// An agent whose RLIMIT_NOFILE is 1,000 (soft and hard: the agent raises
// its soft limit to the hard one) and --processes=1 holds 936 connections
// (64 fds stay reserved): 3,000 need 4 processes or a higher limit.
TEST(PreflightRefusalTest, FdsNeedMoreProcessesOrAHigherLimit) {
  const std::string dir = MakeTempDir("ft-pf-fds");
  StartedAgent agent =
      StartAgent({"/usr/bin/prlimit", "--nofile=1000:1000", AGENT_BIN, "--processes=1"}, "agent", dir);
  ASSERT_FALSE(agent.endpoint.empty());
  const std::string plan = WritePlan(
      dir, "plan.json",
      Plan(testing::ClosedLoopbackEndpoint(), agent.endpoint, {"127.0.1.1-127.0.1.4"}, 3000).dump(2));
  const std::string report = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report}, dir);
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, absl::StrCat("agent ", agent.endpoint,
                                        ": 3,000 connections need 4 worker processes at 936 fds each "
                                        "(RLIMIT_NOFILE 1,000): use --processes=4, or raise LimitNOFILE / "
                                        "ulimit -n to 3,064"));
  EXPECT_CONTAINS(run.err, "fds (over by 2,064)");
  ExpectRefusedReport(report, "fds", run.err);

  // --force gets past preflight; the agent then refuses the share itself
  // (it will not start workers that cannot hold it), so the run ends before
  // any connect, still with exit 3 and the same fix, and a refused report
  // naming the agent.
  const std::string forced_report = dir + "/forced-report.json";
  Outcome forced =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + forced_report, "--force"}, dir);
  EXPECT_EQ(forced.code, 3) << forced.err;
  EXPECT_CONTAINS(forced.err, "running anyway (--force)");
  EXPECT_CONTAINS(forced.err, absl::StrCat("agent ", agent.endpoint, " refused the run"));
  EXPECT_CONTAINS(forced.err, "use --processes=4");
  json refused = json::parse(ReadFileOrEmpty(forced_report), nullptr, false);
  ASSERT_FALSE(refused.is_discarded()) << "no report at " << forced_report;
  EXPECT_EQ(refused["outcome"], "refused") << refused.dump();
  EXPECT_EQ(refused["what_gave"][0]["limit"], "agent") << refused.dump();
  EXPECT_CONTAINS(refused["what_gave"][0]["detail"].get<std::string>(), "use --processes=4");
  StopAgent(agent);
}

// A source address the agent's host does not have is named, and the run is
// refused before the agent is given anything. 198.18.5.5 is only a SOURCE
// here, on an agent in its own namespace (lo only, no routes): no packet
// could leave even if something tried.
TEST(PreflightRefusalTest, NonLocalSourceAddressIsNamed) {
  if (!testing::CanCreateNetns()) GTEST_SKIP() << "cannot create a network namespace here";
  auto ns = ScopedNetns::Create("ft-pf-src");
  ASSERT_TRUE(ns.ok()) << ns.status();
  const std::string dir = MakeTempDir("ft-pf-src");
  StartedAgent agent = StartAgent({AGENT_BIN}, "agent", dir, (*ns)->name());
  ASSERT_FALSE(agent.endpoint.empty());
  const std::string plan = WritePlan(
      dir, "plan.json", Plan("127.0.0.1:9", agent.endpoint, {"127.0.1.1", "198.18.5.5"}, 100).dump(2));
  const std::string report = dir + "/report.json";
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report}, dir,
                               absl::Seconds(30), (*ns)->name());
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, absl::StrCat("agent ", agent.endpoint, ": source address 198.18.5.5 is not an ",
                                        "address of host ", Hostname(),
                                        ": add it (deploy/host/sources.sh add IFACE 198.18.5.5/32) or "
                                        "remove it from the plan"));
  EXPECT_CONTAINS(run.err, "non-local source");
  ExpectRefusedReport(report, "non-local source", run.err);
  // The agent was only probed: it never received an assignment.
  EXPECT_EQ(agent.process->ReadStderr().find("connections to"), std::string::npos)
      << agent.process->ReadStderr();
  StopAgent(agent);
}

// --force runs a plan preflight refuses, and the run shows the limit the
// preflight predicted: with 100 ephemeral ports, 150 connections from one
// source address to one endpoint establish about 100 and the rest fail
// with EADDRNOTAVAIL, announced once in the progress and explained in the
// summary.
TEST(PreflightRefusalTest, ForceRunsPastThePortLimit) {
  if (!testing::CanCreateNetns()) GTEST_SKIP() << "cannot create a network namespace here";
  auto ns = ScopedNetns::Create("ft-pf-force");
  ASSERT_TRUE(ns.ok()) << ns.status();
  const std::string dir = MakeTempDir("ft-pf-force");
  const std::string target_ready = dir + "/target.ready";
  auto target = Subprocess::Start(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--ready-file=" + target_ready},
      "target-server", dir, (*ns)->name());
  ASSERT_TRUE(target.ok()) << target.status();
  auto target_json = (*target)->WaitForReadyFile(target_ready, absl::Seconds(20));
  ASSERT_TRUE(target_json.ok()) << target_json.status();
  StartedAgent agent = StartAgent({AGENT_BIN, "--processes=1"}, "agent", dir, (*ns)->name());
  ASSERT_FALSE(agent.endpoint.empty());
  // Narrowed after the servers bound their ports (from the default range),
  // so the 100 ports below are all free for the run.
  ASSERT_EQ((*ns)->Exec("echo 20000 20099 > /proc/sys/net/ipv4/ip_local_port_range"), 0);

  const std::string plan = WritePlan(
      dir, "plan.json",
      Plan((*target_json)["listen"][0].get<std::string>(), agent.endpoint, {"127.0.1.1"}, 150).dump(2));
  const std::string report_path = dir + "/report.json";
  Outcome refused = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report_path}, dir,
                                   absl::Seconds(30), (*ns)->name());
  EXPECT_EQ(refused.code, 3) << refused.err;
  EXPECT_CONTAINS(refused.err,
                  "150 connections to 1 endpoint from 1 source address need at least 2 source "
                  "addresses (100 ports each in 20000\xE2\x80\x93"
                  "20099): add 1 more");

  Outcome forced =
      RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + plan, "--report=" + report_path, "--force"}, dir,
                     absl::Seconds(60), (*ns)->name());
  EXPECT_EQ(forced.code, 1) << forced.err << forced.out;
  json report = json::parse(ReadFileOrEmpty(report_path), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << forced.err;
  const uint64_t established = report["totals"]["established"].get<uint64_t>();
  EXPECT_GE(established, 95u) << report["totals"].dump();
  EXPECT_LE(established, 100u) << report["totals"].dump();
  EXPECT_EQ(report["failures"]["EADDRNOTAVAIL"], 150 - established) << report["failures"].dump();
  // What gave: the ports, counted, first.
  ASSERT_TRUE(report["what_gave"].is_array() && !report["what_gave"].empty()) << report.dump();
  EXPECT_EQ(report["what_gave"][0]["limit"], "ports") << report["what_gave"].dump();
  EXPECT_EQ(report["what_gave"][0]["reasons"]["EADDRNOTAVAIL"], 150 - established);
  EXPECT_CONTAINS(forced.out, absl::StrCat("what gave: ports (", 150 - established, " x EADDRNOTAVAIL"));

  // The failure shows in the progress once, with its hint, and in the
  // summary with its cause and fix.
  const std::string first = absl::StrCat("agent ", agent.endpoint, ": EADDRNOTAVAIL -- ");
  const size_t at = forced.err.find(first);
  EXPECT_NE(at, std::string::npos) << forced.err;
  EXPECT_EQ(forced.err.find(first, at + 1), std::string::npos) << "announced more than once:\n" << forced.err;
  EXPECT_CONTAINS(forced.err, first + "source ports exhausted");
  EXPECT_CONTAINS(forced.out, "EADDRNOTAVAIL");
  EXPECT_CONTAINS(forced.out, "add source addresses or target ports");

  StopAgent(agent);
  (*target)->Signal(SIGTERM);
  auto code = (*target)->Wait(absl::Seconds(15));
  EXPECT_TRUE(code.ok() && *code == 0) << (*target)->Describe();
}

}  // namespace
}  // namespace fourtuple
