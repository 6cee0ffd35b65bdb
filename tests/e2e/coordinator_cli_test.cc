// The coordinator binary on its own: exit codes and messages for bad command
// lines, bad plans and agents that cannot be reached, `probe` against a
// real agent, and `report` and `compare` on saved reports.
#include "tests/support/coordinator_cli.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/expect_contains.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::ClosedLoopbackEndpoint;
using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Outcome;
using ::fourtuple::testing::ReadFileOrEmpty;
using ::fourtuple::testing::RunCoordinator;
using ::fourtuple::testing::Subprocess;
using ::fourtuple::testing::WritePlan;

std::string PlanWithAgent(const std::string& agent) {
  return absl::StrCat(R"({
  "target": {"endpoints": ["127.0.0.1:9"]},
  "agents": [{"endpoint": ")",
                      agent, R"(", "source_addresses": ["127.0.1.1-127.0.1.4"]}],
  "connections": 100,
  "hold": "1s"
})");
}

TEST(CoordinatorCliTest, BadCommandLinesExit2WithUsage) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "no command given"},
           {{"fly"}, "unknown command \"fly\""},
           {{"run"}, "missing required flag --plan"},
           {{"run", "--plan=x.json", "--bogus=1"}, "unknown flag --bogus"},
           {{"probe"}, "missing required flag --agents"},
       }) {
    Outcome outcome = RunCoordinator(COORDINATOR_BIN, args, dir);
    EXPECT_EQ(outcome.code, 2) << outcome.err;
    EXPECT_CONTAINS(outcome.err, message);
    EXPECT_CONTAINS(outcome.err, "usage:");
  }
}

TEST(CoordinatorCliTest, BadPlansExit2NamingTheField) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\n  \"connections\": 10,\n  \"agents\": [", "invalid JSON at line 3, column 14"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "conections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.conections: unknown field (did you mean \"connections\"?)"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]},
                     {"endpoint": "127.0.0.1:7002", "source_addresses": ["127.0.1.300"]}]})",
       "plan.agents[1].source_addresses[0]: \"127.0.1.300\" is not an IPv4 or IPv6 address"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": -5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.connections: expected a whole number from 1"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "echo": {"payload_bytes": 8},
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.echo.payload_bytes: expected a whole number from 16"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"],
                      "connections": 6}]})",
       "plan.agents[0].connections: 6 is more than the plan's total connections (5)"},
      // Wrong type, zero count, a duration that does not parse.
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": "5",
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.connections: expected a whole number from 1 to 1099511627776, got the string \"5\""},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 0,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.connections: expected a whole number from 1"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5, "hold": "10 seconds",
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.hold: \"10 seconds\" is not a duration"},
      // A misspelt nested field is named, not ignored.
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5, "echo": {"round": 2},
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.echo.round: unknown field (did you mean \"rounds\"?)"},
      // Malformed addresses and endpoints.
      {R"({"target": {"endpoints": ["127.0.0.1"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.1"]}]})",
       "plan.target.endpoints[0]:"},
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "127.0.0.1:7001", "source_addresses": ["127.0.1.9-127.0.1.1"]}]})",
       "plan.agents[0].source_addresses[0]: range"},
      // A name that does not resolve (.invalid never does, RFC 6761).
      {R"({"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 5,
          "agents": [{"endpoint": "no-such-agent.invalid:7000", "source_addresses": ["127.0.1.1"]}]})",
       "plan.agents[0].endpoint: host \"no-such-agent.invalid\" does not resolve"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = WritePlan(dir, absl::StrCat("plan", i, ".json"), cases[i].text);
    Outcome outcome = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir);
    EXPECT_EQ(outcome.code, 2) << outcome.err;
    EXPECT_CONTAINS(outcome.err, path + ": " + cases[i].message);
    Outcome preflight = RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + path}, dir);
    EXPECT_EQ(preflight.code, 2) << preflight.err;
    EXPECT_CONTAINS(preflight.err, path + ": " + cases[i].message);
  }
  Outcome missing = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + dir + "/nope.json"}, dir);
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, "nope.json");
}

// A plan that is not a regular file: /dev/zero would be read until memory
// runs out, a FIFO with no writer would block forever. Both exit 2 at once,
// naming the flag, the file and what it is.
TEST(CoordinatorCliTest, PlanThatIsNotARegularFileExits2AtOnce) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string fifo = dir + "/plan.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/zero", "a character device"},
           {fifo, "a FIFO (named pipe)"},
           {dir, "a directory"},
       }) {
    for (const char* command : {"run", "preflight"}) {
      const absl::Time start = absl::Now();
      Outcome outcome = RunCoordinator(COORDINATOR_BIN, {command, "--plan=" + path}, dir, absl::Seconds(10));
      EXPECT_EQ(outcome.code, 2) << command << " " << path << ": " << outcome.err;
      EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << command << " " << path;
      EXPECT_CONTAINS(outcome.err,
                      "--plan: " + path + " is " + kind + "; expected a regular file holding a JSON plan");
    }
  }
}

TEST(CoordinatorCliTest, UnreachableAgentExits3NamingIt) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string agent = ClosedLoopbackEndpoint();
  const std::string path = WritePlan(dir, "plan.json", PlanWithAgent(agent));
  const std::string report = dir + "/report.json";
  Outcome outcome = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path, "--report=" + report}, dir);
  EXPECT_EQ(outcome.code, 3) << outcome.err;
  EXPECT_CONTAINS(outcome.err, "agent " + agent + " is unreachable");
  EXPECT_NE(access(report.c_str(), F_OK), 0) << "no run, so no report";

  Outcome preflight = RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + path}, dir);
  EXPECT_EQ(preflight.code, 3) << preflight.err;
  EXPECT_CONTAINS(preflight.err, "agent " + agent + " is unreachable");

  Outcome probe = RunCoordinator(COORDINATOR_BIN, {"probe", "--agents=" + agent}, dir);
  EXPECT_EQ(probe.code, 3);
  EXPECT_CONTAINS(probe.out, "unreachable");
}

// A report as `coordinator run --report` writes it, trimmed to the fields
// the page and the comparison read.
std::string SavedReport(int version, const std::string& outcome, int established, int refused) {
  return absl::StrCat(R"({"format": "fourtuple-report", "format_version": )", version, R"(,
  "outcome": ")",
                      outcome, R"(",
  "plan": {"target": {"endpoints": ["127.0.0.1:9"]}, "connections": 1000, "echo": {"rounds": 1}},
  "totals": {"requested": 1000, "established": )",
                      established, R"(, "failed": )", refused, R"(, "peak_open": 900,
             "echo_verified": 900, "echo_failed": 0, "connect_seconds": 2.0, "connect_rate": 450.0,
             "echo_seconds": 1.0, "echo_rate": 900.0},
  "failures": {"ECONNREFUSED": )",
                      refused, R"(},
  "latency_ms": {"connect": {"p50": 0.2, "p99": 3.0, "p999": 9.0, "max": 20.0, "count": 900},
                 "echo_rtt": {"p50": 0.1, "p99": 1.0, "p999": 2.0, "max": 5.0, "count": 900}},
  "agents": [{"endpoint": "127.0.0.1:7001", "host": "lab-host-1", "state": "done", "requested": 1000,
              "established": )",
                      established, R"(, "failed": 100, "failures": {"ECONNREFUSED": 100}}],
  "timeline": [{"t": 0.0, "open": 0, "established": 0, "failed": 0},
               {"t": 1.0, "open": 900, "established": 900, "failed": 100}]
})");
}

TEST(CoordinatorCliTest, ReportRendersASavedReportAsHtml) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string saved = WritePlan(dir, "saved.json", SavedReport(1, "fail", 900, 100));
  const std::string page = dir + "/page.html";
  Outcome outcome = RunCoordinator(COORDINATOR_BIN, {"report", saved, "--html=" + page}, dir);
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_CONTAINS(outcome.out, "outcome: FAIL");
  EXPECT_CONTAINS(outcome.out, "html report: " + page);
  const std::string html = ReadFileOrEmpty(page);
  EXPECT_CONTAINS(html, "<!DOCTYPE html>");
  EXPECT_CONTAINS(html, "fourtuple run report");
  EXPECT_CONTAINS(html, "lab-host-1");
  EXPECT_CONTAINS(html, "ECONNREFUSED");
  EXPECT_CONTAINS(html, "<svg");
}

TEST(CoordinatorCliTest, ReportAndCompareRefuseWhatIsNotAReportExit2) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string good = WritePlan(dir, "good.json", SavedReport(1, "pass", 1000, 0));
  for (const auto& [name, text, message] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"plan.json", PlanWithAgent("127.0.0.1:7001"), "has no \"format\" field: not a fourtuple report"},
           {"garbage.json", "fourtuple, but not JSON", "is not JSON"},
           {"newer.json", SavedReport(2, "pass", 1000, 0),
            "is format version 2, newer than this coordinator"},
       }) {
    const std::string path = WritePlan(dir, name, text);
    const std::string page = dir + "/" + name + ".html";
    Outcome report = RunCoordinator(COORDINATOR_BIN, {"report", path, "--html=" + page}, dir);
    EXPECT_EQ(report.code, 2) << name;
    EXPECT_CONTAINS(report.err, path + " " + message);
    EXPECT_NE(access(page.c_str(), F_OK), 0) << "no page for " << name;
    Outcome compare = RunCoordinator(COORDINATOR_BIN, {"compare", good, path}, dir);
    EXPECT_EQ(compare.code, 2) << name;
    EXPECT_CONTAINS(compare.err, path + " " + message);
  }
  Outcome missing = RunCoordinator(COORDINATOR_BIN, {"report", dir + "/nope.json"}, dir);
  EXPECT_EQ(missing.code, 2);
  EXPECT_CONTAINS(missing.err, dir + "/nope.json");
}

TEST(CoordinatorCliTest, CompareShowsTwoSavedReportsWithRatios) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string a = WritePlan(dir, "a.json", SavedReport(1, "pass", 1000, 0));
  const std::string b = WritePlan(dir, "b.json", SavedReport(1, "fail", 500, 500));
  Outcome outcome = RunCoordinator(COORDINATOR_BIN, {"compare", a, b}, dir);
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  // Each line's cells one space apart: the columns' widths follow the paths.
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(outcome.out, '\n')) {
    lines.push_back(absl::StrJoin(absl::StrSplit(line, ' ', absl::SkipEmpty()), " "));
  }
  EXPECT_THAT(lines, ::testing::Contains(absl::StrCat(a, " ", b, " B/A")));
  EXPECT_THAT(lines, ::testing::Contains("outcome pass fail"));
  EXPECT_THAT(lines, ::testing::Contains("established 1,000 500 0.5x"));
  EXPECT_THAT(lines, ::testing::Contains("connect rate 450/s 450/s 1x"));
  EXPECT_THAT(lines, ::testing::Contains("failures ECONNREFUSED 0 500"));
}

// A report path that cannot be written is found before anything connects
// (the agent here is unreachable: had the run gone on, it would exit 3).
TEST(CoordinatorCliTest, UnwritableReportPathsExit2BeforeConnecting) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string path = WritePlan(dir, "plan.json", PlanWithAgent(ClosedLoopbackEndpoint()));

  const std::string missing = dir + "/no-such-dir/report.json";
  Outcome no_dir = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path, "--report=" + missing}, dir);
  EXPECT_EQ(no_dir.code, 2) << no_dir.err;
  EXPECT_CONTAINS(no_dir.err, "--report=" + missing);
  EXPECT_CONTAINS(no_dir.err, "directory " + dir + "/no-such-dir does not exist");
  EXPECT_EQ(no_dir.err.find("unreachable"), std::string::npos) << no_dir.err;

  const std::string under_a_file = path + "/page.html";
  Outcome not_dir =
      RunCoordinator(COORDINATOR_BIN,
                     {"run", "--plan=" + path, "--report=" + dir + "/r.json", "--html=" + under_a_file}, dir);
  EXPECT_EQ(not_dir.code, 2) << not_dir.err;
  EXPECT_CONTAINS(not_dir.err, "--html=" + under_a_file);
  EXPECT_CONTAINS(not_dir.err, path + " is not a directory");
  EXPECT_EQ(not_dir.err.find("unreachable"), std::string::npos) << not_dir.err;
}

// The path from "... wrote PATH instead" on stderr, or "".
std::string FallbackPath(const std::string& err, const std::string& flag) {
  const size_t at = err.find("could not write " + flag + "=");
  if (at == std::string::npos) return "";
  const size_t wrote = err.find("); wrote ", at);
  const size_t instead = err.find(" instead", wrote);
  if (wrote == std::string::npos || instead == std::string::npos) return "";
  return err.substr(wrote + 9, instead - wrote - 9);
}

// The destination checked before the run goes away during it: the finished
// run's report and page land in $TMPDIR, stderr says where, and the exit code
// says they are not where asked.
TEST(CoordinatorCliTest, AReportThatCannotBeWrittenAfterTheRunGoesToTmpdir) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string target_ready = dir + "/target.ready";
  auto target = Subprocess::Start(
      {TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=1", "--ready-file=" + target_ready},
      "target-server", dir);
  ASSERT_TRUE(target.ok()) << target.status();
  auto target_info = (*target)->WaitForReadyFile(target_ready, absl::Seconds(20));
  ASSERT_TRUE(target_info.ok()) << target_info.status() << (*target)->Describe();
  ::fourtuple::testing::StartedAgent agent =
      ::fourtuple::testing::StartAgent({AGENT_BIN, "--processes=1"}, "agent", dir);
  ASSERT_NE(agent.process, nullptr);

  std::string plan = PlanWithAgent(agent.endpoint);
  plan.replace(plan.find("127.0.0.1:9"), 11, (*target_info)["listen"][0].get<std::string>());
  plan.replace(plan.find("\"hold\": \"1s\""), 12, "\"hold\": \"4s\"");
  const std::string path = WritePlan(dir, "plan.json", plan);
  const std::string out = dir + "/out", tmp = dir + "/tmp";
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(tmp.c_str(), 0755), 0);
  setenv("TMPDIR", tmp.c_str(), 1);  // the coordinator inherits it

  std::thread remover([&out] {
    absl::SleepFor(absl::Milliseconds(1500));  // the run is under way
    rmdir(out.c_str());
  });
  Outcome run = RunCoordinator(
      COORDINATOR_BIN, {"run", "--plan=" + path, "--report=" + out + "/r.json", "--html=" + out + "/r.html"},
      dir);
  remover.join();
  unsetenv("TMPDIR");
  EXPECT_EQ(run.code, 1) << run.out << run.err;

  const std::string report = FallbackPath(run.err, "--report");
  ASSERT_EQ(report.rfind(tmp + "/fourtuple-", 0), 0u) << run.err;
  EXPECT_CONTAINS(run.out, "report: " + report);
  const nlohmann::json parsed = nlohmann::json::parse(ReadFileOrEmpty(report), nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << report;
  EXPECT_EQ(parsed["outcome"], "pass") << parsed.dump(2);
  const std::string html = FallbackPath(run.err, "--html");
  ASSERT_EQ(html.rfind(tmp + "/fourtuple-", 0), 0u) << run.err;
  EXPECT_CONTAINS(ReadFileOrEmpty(html), "<html");

  (*target)->Signal(SIGTERM);
  agent.process->Signal(SIGTERM);
  EXPECT_TRUE((*target)->Wait(absl::Seconds(15)).ok());
  EXPECT_TRUE(agent.process->Wait(absl::Seconds(15)).ok());
}

// Against a real agent: probe prints its facts, preflight its capacity, and
// a plan over its capacity is refused (exit 3) unless forced.
TEST(CoordinatorCliTest, ProbeAndPreflightAgainstARealAgent) {
  const std::string dir = MakeTempDir("ft-coordinator-cli");
  const std::string ready = dir + "/agent.ready";
  auto agent = Subprocess::Start(
      {AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready, "--processes=1"}, "agent", dir);
  ASSERT_TRUE(agent.ok()) << agent.status();
  auto ready_json = (*agent)->WaitForReadyFile(ready, absl::Seconds(20));
  ASSERT_TRUE(ready_json.ok()) << ready_json.status() << (*agent)->Describe();
  const std::string endpoint = (*ready_json)["listen"][0].get<std::string>();

  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  Outcome probe = RunCoordinator(COORDINATOR_BIN, {"probe", "--agents=" + endpoint}, dir);
  EXPECT_EQ(probe.code, 0) << probe.err;
  EXPECT_CONTAINS(probe.out, endpoint);
  EXPECT_CONTAINS(probe.out, hostname);
  EXPECT_CONTAINS(probe.out, "nofile soft/hard");
  EXPECT_CONTAINS(probe.out, "127.0.0.1");  // among its local addresses

  // A source address the agent's host does not have: preflight (which asks
  // the agent) refuses it, exit 3, naming the address and the fix.
  std::string non_local = PlanWithAgent(endpoint);
  non_local.replace(non_local.find("127.0.1.1-127.0.1.4"), 19, "192.0.2.1");
  const std::string non_local_path = WritePlan(dir, "non-local.json", non_local);
  for (const char* command : {"preflight", "run"}) {
    Outcome refused = RunCoordinator(COORDINATOR_BIN, {command, "--plan=" + non_local_path}, dir);
    EXPECT_EQ(refused.code, 3) << command << "\n" << refused.err;
    EXPECT_CONTAINS(refused.err, "source address 192.0.2.1 is not an address of host");
  }

  // One worker process holds at most the fd budget (under 20,000 here):
  // 50,000 connections cannot fit, and the fix names --processes.
  rlimit limit = {};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_max >= 40000) {
    (*agent)->Signal(SIGTERM);
    GTEST_SKIP() << "RLIMIT_NOFILE is " << limit.rlim_max << ": one process could hold the plan";
  }
  std::string plan = PlanWithAgent(endpoint);
  plan.replace(plan.find("\"connections\": 100"), 18, "\"connections\": 50000");
  const std::string path = WritePlan(dir, "big.json", plan);
  Outcome preflight = RunCoordinator(COORDINATOR_BIN, {"preflight", "--plan=" + path}, dir);
  EXPECT_EQ(preflight.code, 3) << preflight.out << preflight.err;
  EXPECT_CONTAINS(preflight.out, "fds (over by");
  EXPECT_CONTAINS(preflight.err, "--processes=");
  Outcome run = RunCoordinator(COORDINATOR_BIN, {"run", "--plan=" + path}, dir);
  EXPECT_EQ(run.code, 3) << run.err;
  EXPECT_CONTAINS(run.err, "--force");

  (*agent)->Signal(SIGTERM);
  auto code = (*agent)->Wait(absl::Seconds(15));
  EXPECT_TRUE(code.ok() && *code == 0) << (*agent)->Describe();
}

}  // namespace
}  // namespace fourtuple
