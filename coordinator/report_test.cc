#include "coordinator/report.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include "common/histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Plan TwoAgentPlan(uint32_t rounds) {
  Plan plan;
  plan.target_endpoints = {"127.0.0.1:9000"};
  plan.connections = 2000;
  plan.echo.rounds = rounds;
  plan.agents.resize(2);
  plan.agents[0].endpoint = "127.0.0.1:7001";
  plan.agents[0].source_specs = {"127.0.1.1-127.0.1.2"};
  plan.agents[0].source_addresses = {"127.0.1.1", "127.0.1.2"};
  plan.agents[1].endpoint = "127.0.0.1:7002";
  plan.agents[1].source_specs = {"127.0.2.1"};
  plan.agents[1].source_addresses = {"127.0.2.1"};
  return plan;
}

// A finished agent: `established` of `requested`, every echo round verified
// on every established connection, latencies at `connect_us` / `echo_us`.
AgentRecord DoneAgent(const std::string& endpoint, uint64_t requested, uint64_t established, uint32_t rounds,
                      uint64_t connect_us, uint64_t echo_us) {
  AgentRecord agent;
  agent.endpoint = endpoint;
  agent.state = AgentState::kDone;
  agent.requested = requested;
  agent.has_report = true;
  v1::RunReport& r = agent.last;
  r.set_phase(v1::RUN_PHASE_CLOSED);
  r.set_host("host-" + endpoint);
  r.set_requested(requested);
  r.set_attempted(requested);
  r.set_established(established);
  r.set_failed(requested - established);
  if (requested > established) (*r.mutable_failures())["EADDRNOTAVAIL"] = requested - established;
  r.set_echo_rounds_done(rounds);
  r.set_echo_sent(rounds * established);
  r.set_echo_verified(rounds * established);
  (*r.mutable_established_by_source())["127.0.9.1"] = established;
  Histogram connect, echo;
  for (uint64_t i = 0; i < established; ++i) connect.Record(connect_us);
  for (uint64_t i = 0; i < rounds * established; ++i) echo.Record(echo_us);
  connect.ToProto(r.mutable_connect_latency());
  echo.ToProto(r.mutable_echo_rtt());
  return agent;
}

RunRecord PassingRecord() {
  RunRecord record;
  record.plan = TwoAgentPlan(2);
  record.agents.push_back(DoneAgent("127.0.0.1:7001", 1000, 1000, 2, 100, 50));
  record.agents.push_back(DoneAgent("127.0.0.1:7002", 1000, 1000, 2, 10000, 2000));
  record.peak_open = 2000;
  record.connect_seconds = 2.0;
  record.echo_seconds = 0.5;
  record.timeline = {{0.0, 0, 0, 0, {}}, {1.0, 1200, 1200, 0, {}}, {2.0, 2000, 2000, 0, {}}};
  return record;
}

// One sample per reason under its count: "reply:" for the unique-id echo
// and greetings; with echo.send an echo_mismatch's shows as "received:"
// beside the expected bytes, once.
TEST(ReportTest, SummaryPrintsOneSamplePerReason) {
  nlohmann::ordered_json report = {
      {"outcome", "fail"},
      {"plan", {{"echo", {{"rounds", 1}, {"payload_bytes", 16}}}}},
      {"failures", {{"echo_mismatch", uint64_t{3}}, {"greeting_mismatch", uint64_t{2}}}},
      {"agents",
       {{{"failure_samples", {{"echo_mismatch", "HTTP/1.1 400"}, {"greeting_mismatch", "554 busy\\r\\n"}}}},
        {{"failure_samples", {{"echo_mismatch", "second agent"}}}}}}};
  std::string summary = FormatSummary(report);
  EXPECT_THAT(summary, HasSubstr("reply: \"HTTP/1.1 400\""));
  EXPECT_THAT(summary, HasSubstr("reply: \"554 busy\\r\\n\""));
  EXPECT_THAT(summary, Not(HasSubstr("second agent")));
  report["plan"]["echo"] = {{"rounds", 1}, {"send", "PING\r\n"}, {"expect", "+PONG\r\n"}};
  summary = FormatSummary(report);
  EXPECT_THAT(summary, HasSubstr("received: \"HTTP/1.1 400\""));
  EXPECT_THAT(summary, Not(HasSubstr("reply: \"HTTP/1.1 400\"")));
  EXPECT_THAT(summary, HasSubstr("reply: \"554 busy\\r\\n\""));
}

TEST(ReportTest, PassingRunTotals) {
  const Report report = BuildReport(PassingRecord());
  ASSERT_TRUE(report.pass);
  const auto& json = report.json;
  EXPECT_EQ(json["outcome"], "pass");
  EXPECT_FALSE(json.contains("fail_reasons"));
  EXPECT_EQ(json["totals"]["requested"], 2000);
  EXPECT_EQ(json["totals"]["established"], 2000);
  EXPECT_EQ(json["totals"]["failed"], 0);
  EXPECT_EQ(json["totals"]["peak_open"], 2000);
  EXPECT_EQ(json["totals"]["echo_verified"], 4000);
  EXPECT_EQ(json["totals"]["echo_failed"], 0);
  EXPECT_DOUBLE_EQ(json["totals"]["connect_seconds"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(json["totals"]["connect_rate"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(json["totals"]["echo_rate"].get<double>(), 8000.0);
  EXPECT_TRUE(json["failures"].empty());
  EXPECT_EQ(json["plan"]["echo"]["rounds"], 2);
  EXPECT_FALSE(json.contains("target"));
  ASSERT_EQ(json["timeline"].size(), 3u);
  EXPECT_EQ(json["timeline"][1]["open"], 1200);
  EXPECT_DOUBLE_EQ(json["timeline"][2]["t"].get<double>(), 2.0);

  ASSERT_EQ(json["agents"].size(), 2u);
  const auto& agent = json["agents"][1];
  EXPECT_EQ(agent["endpoint"], "127.0.0.1:7002");
  EXPECT_EQ(agent["host"], "host-127.0.0.1:7002");
  EXPECT_EQ(agent["state"], "done");
  EXPECT_EQ(agent["requested"], 1000);
  EXPECT_EQ(agent["established"], 1000);
  EXPECT_EQ(agent["echo_verified"], 2000);
  EXPECT_EQ(agent["echo_mismatched"], 0);
  EXPECT_EQ(agent["echo_timed_out"], 0);
  EXPECT_EQ(agent["by_source_address"]["127.0.9.1"], 1000);
  EXPECT_TRUE(agent["failures"].is_object());

  // Keys in the order docs/plan-and-report.md lists them.
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_THAT(keys, ::testing::ElementsAre("format", "format_version", "outcome", "plan", "totals",
                                           "failures", "latency_ms", "agents", "timeline"));
}

TEST(ReportTest, PercentilesComeFromTheMergedHistograms) {
  const Report report = BuildReport(PassingRecord());
  // Half the connects took 100 us, half 10 ms: the merged p50 sits at the
  // fast agent's bucket and p99 at the slow one's. One histogram fed every
  // sample must give exactly the same figures.
  Histogram all;
  for (int i = 0; i < 1000; ++i) all.Record(100);
  for (int i = 0; i < 1000; ++i) all.Record(10000);
  const auto& connect = report.json["latency_ms"]["connect"];
  EXPECT_DOUBLE_EQ(connect["p50"].get<double>(), all.PercentileUs(0.5) / 1000.0);
  EXPECT_DOUBLE_EQ(connect["p99"].get<double>(), std::round(all.PercentileUs(0.99)) / 1000.0);
  EXPECT_NEAR(connect["p50"].get<double>(), 0.1, 0.01);
  EXPECT_NEAR(connect["p99"].get<double>(), 10.0, 0.7);
  EXPECT_DOUBLE_EQ(connect["max"].get<double>(), 10.0);
  EXPECT_EQ(connect["count"], 2000);

  const auto& echo = report.json["latency_ms"]["echo_rtt"];
  EXPECT_NEAR(echo["p50"].get<double>(), 0.05, 0.005);
  EXPECT_NEAR(echo["p999"].get<double>(), 2.0, 0.15);
  EXPECT_DOUBLE_EQ(echo["max"].get<double>(), 2.0);
  EXPECT_EQ(echo["count"], 4000);
}

TEST(ReportTest, UnestablishedConnectionsFail) {
  RunRecord record = PassingRecord();
  record.agents[1] = DoneAgent("127.0.0.1:7002", 1000, 990, 2, 100, 50);
  const Report report = BuildReport(record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["outcome"], "fail");
  EXPECT_EQ(report.json["totals"]["established"], 1990);
  EXPECT_EQ(report.json["totals"]["failed"], 10);
  EXPECT_EQ(report.json["failures"]["EADDRNOTAVAIL"], 10);
  EXPECT_EQ(report.json["agents"][1]["failures"]["EADDRNOTAVAIL"], 10);
  EXPECT_THAT(report.json["fail_reasons"][0].get<std::string>(),
              HasSubstr("10 of 2,000 connections not established"));
  EXPECT_THAT(FormatSummary(report.json), HasSubstr("EADDRNOTAVAIL"));
}

TEST(ReportTest, MissingEchoFails) {
  RunRecord record = PassingRecord();
  record.agents[0].last.set_echo_verified(1999);
  record.agents[0].last.set_echo_timed_out(1);
  const Report report = BuildReport(record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["totals"]["echo_failed"], 1);
  EXPECT_THAT(report.json["fail_reasons"][0].get<std::string>(),
              HasSubstr("3,999 of 4,000 echo checks passed (2 rounds x 2,000 connections): 1 failed"));
  EXPECT_EQ(report.json["agents"][0]["echo_timed_out"], 1);
}

// Connections the target dropped during the hold fail the run even when
// every echo round before had verified them.
TEST(ReportTest, ConnectionsClosedByTheTargetFail) {
  RunRecord record = PassingRecord();
  v1::RunReport& last = record.agents[1].last;
  last.set_closed_by_peer(1000);
  last.set_failed(1000);
  (*last.mutable_failures())["peer_closed"] = 990;
  (*last.mutable_failures())["ECONNRESET"] = 10;
  const Report report = BuildReport(record);
  EXPECT_FALSE(report.pass);
  EXPECT_THAT(report.json["fail_reasons"].dump(),
              HasSubstr("1,000 established connections were closed by the far side (peer_closed 990, "
                        "ECONNRESET 10)"));
  EXPECT_EQ(report.json["failures"]["peer_closed"], 990);
  EXPECT_FALSE(BuildReport(PassingRecord()).json.contains("fail_reasons"));
}

TEST(ReportTest, LostAgentFailsAndKeepsItsLastCounts) {
  RunRecord record = PassingRecord();
  AgentRecord& lost = record.agents[1];
  lost.state = AgentState::kLost;
  lost.error = "stream ended (UNAVAILABLE): Socket closed";
  lost.last.set_phase(v1::RUN_PHASE_CONNECTED);
  lost.last.set_echo_verified(0);
  lost.last.clear_echo_rtt();
  const Report report = BuildReport(record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["agents"][1]["state"], "lost");
  EXPECT_EQ(report.json["agents"][1]["established"], 1000);
  EXPECT_EQ(report.json["agents"][1]["error"], "stream ended (UNAVAILABLE): Socket closed");
  EXPECT_EQ(report.json["totals"]["established"], 2000);
  EXPECT_EQ(report.json["totals"]["echo_verified"], 2000);
  EXPECT_THAT(report.json["fail_reasons"][0].get<std::string>(), HasSubstr("agent 127.0.0.1:7002 lost"));
  const std::string summary = FormatSummary(report.json);
  EXPECT_THAT(summary, HasSubstr("outcome: FAIL"));
  EXPECT_THAT(summary, HasSubstr("127.0.0.1:7002  host-127.0.0.1:7002  lost"));
  EXPECT_THAT(summary, HasSubstr("127.0.0.1:7002 error: stream ended (UNAVAILABLE): Socket closed"));
}

TEST(ReportTest, AgentWithoutAnyReport) {
  RunRecord record = PassingRecord();
  AgentRecord silent;
  silent.endpoint = "127.0.0.1:7003";
  silent.state = AgentState::kLost;
  silent.requested = 500;
  silent.host = "probed-host";
  record.agents.push_back(silent);
  const Report report = BuildReport(record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["totals"]["requested"], 2500);
  EXPECT_EQ(report.json["agents"][2]["host"], "probed-host");
  EXPECT_EQ(report.json["agents"][2]["established"], 0);
}

TEST(ReportTest, HostFactsAndPerAgentOpenCounts) {
  RunRecord record = PassingRecord();
  record.agents[0].has_facts = true;
  record.agents[0].facts.set_hostname("lab1");
  record.agents[0].facts.set_cores(8);
  record.agents[0].facts.set_port_range_low(1024);
  record.agents[0].facts.set_port_range_high(65535);
  record.agents[0].facts.add_local_addresses("127.0.0.1");
  record.timeline[1].agents_open = {700, 500};
  const Report report = BuildReport(record);
  const auto& facts = report.json["agents"][0]["host_facts"];
  EXPECT_EQ(facts["hostname"], "lab1");
  EXPECT_EQ(facts["cores"], 8);
  EXPECT_EQ(facts["port_range_high"], 65535);
  EXPECT_EQ(facts["local_addresses"][0], "127.0.0.1");
  EXPECT_FALSE(report.json["agents"][1].contains("host_facts"));
  EXPECT_EQ(report.json["timeline"][1]["agents_open"][1], 500);
  EXPECT_FALSE(report.json["timeline"][0].contains("agents_open"));
}

TEST(ReportTest, InterruptedRunFails) {
  RunRecord record = PassingRecord();
  record.interrupted = true;
  EXPECT_FALSE(BuildReport(record).pass);
}

TEST(ReportTest, ZeroEchoRoundsNeedNoEcho) {
  RunRecord record;
  record.plan = TwoAgentPlan(0);
  record.agents.push_back(DoneAgent("127.0.0.1:7001", 1000, 1000, 0, 100, 50));
  record.agents.push_back(DoneAgent("127.0.0.1:7002", 1000, 1000, 0, 100, 50));
  EXPECT_TRUE(BuildReport(record).pass);
}

TEST(ReportTest, TargetCounts) {
  RunRecord record = PassingRecord();
  record.target = TargetRecord{true, 2000, 2001, ""};
  const Report report = BuildReport(record);
  EXPECT_EQ(report.json["target"]["open_at_peak"], 2000);
  EXPECT_EQ(report.json["target"]["accepted"], 2001);
  EXPECT_THAT(FormatSummary(report.json), HasSubstr("target: open at peak 2,000, accepted 2,001"));

  record.target = TargetRecord{false, 0, 0, "GetStats on x:1: UNAVAILABLE: down"};
  const Report unreachable = BuildReport(record);
  EXPECT_FALSE(unreachable.json["target"].contains("open_at_peak"));
  EXPECT_EQ(unreachable.json["target"]["error"], "GetStats on x:1: UNAVAILABLE: down");
  EXPECT_TRUE(unreachable.pass);  // the target's counts do not decide the outcome
}

// Connects that fail because the target's workers are full are blamed on
// the target's fds, named first, not only on time or the backlog.
TEST(ReportTest, TargetAtCapacityIsWhatGaveFirst) {
  RunRecord record = PassingRecord();
  record.target = TargetRecord{true, 1000, 1000, "", 3};
  // 100 connects timed out in the full target's accept queue.
  record.agents[1] = DoneAgent("127.0.0.1:7002", 1000, 900, 2, 100, 50);
  record.agents[1].last.mutable_failures()->clear();
  (*record.agents[1].last.mutable_failures())["ETIMEDOUT"] = 100;
  const Report report = BuildReport(record);
  ASSERT_FALSE(report.pass);
  EXPECT_EQ(report.json["target"]["at_capacity"], 3);
  ASSERT_TRUE(report.json["what_gave"].is_array() && report.json["what_gave"].size() >= 2)
      << report.json.dump();
  EXPECT_EQ(report.json["what_gave"][0]["limit"], "target");
  EXPECT_THAT(report.json["what_gave"][0]["detail"].get<std::string>(),
              HasSubstr("the target ran out of fds: its workers stopped accepting at their connection budget "
                        "3 times"));
  EXPECT_NE(report.json["what_gave"][1]["limit"], "target");
  EXPECT_THAT(FormatSummary(report.json), HasSubstr("target (the target ran out of fds"));

  record.target->at_capacity = 0;  // a full target is not blamed when it never was
  EXPECT_NE(BuildReport(record).json["what_gave"][0]["limit"], "target");
}

TEST(ReportTest, SummaryShowsRatesHintsAndLatency) {
  RunRecord record = PassingRecord();
  (*record.agents[0].last.mutable_failures())["EMFILE"] = 3;
  const std::string summary = FormatSummary(BuildReport(record).json);
  EXPECT_THAT(summary, HasSubstr("connect rate: 1,000 conn/s"));
  EXPECT_THAT(summary, HasSubstr("echo rate: 8,000 verified/s"));
  EXPECT_THAT(summary, HasSubstr("EMFILE"));
  EXPECT_THAT(summary, HasSubstr("ulimit"));  // the hint for EMFILE
  EXPECT_THAT(summary, HasSubstr("connect"));
  EXPECT_THAT(summary, HasSubstr("echo_rtt"));
  EXPECT_THAT(summary, Not(HasSubstr("target:")));
}

// The summary's parts, as a person reads them: outcome and why, totals,
// each failure reason with its cause and fix, latency percentiles, and the
// per-agent table.
TEST(ReportTest, SummaryContent) {
  RunRecord record = PassingRecord();
  record.agents[1] = DoneAgent("127.0.0.1:7002", 1000, 990, 2, 100, 50);
  const std::string summary = FormatSummary(BuildReport(record).json);
  EXPECT_THAT(summary, HasSubstr("outcome: FAIL\n  - 10 of 2,000 connections not established\n"));
  EXPECT_THAT(summary,
              HasSubstr("connections: 2,000 requested, 1,990 established, 10 failed, peak open 2,000\n"));
  EXPECT_THAT(summary, HasSubstr("failures:\n  EADDRNOTAVAIL    10  -- source ports exhausted for a "
                                 "source/target pair"));
  EXPECT_THAT(summary, HasSubstr("add source addresses or target ports"));
  EXPECT_THAT(summary, HasSubstr("latency (ms)      p50      p99    p99.9      max\n  connect "));
  EXPECT_THAT(summary, HasSubstr("\n  echo_rtt "));
  EXPECT_THAT(
      summary,
      HasSubstr("agents:\n"
                "  agent           host                 state  requested  established  failed  "
                "echo verified  echo failed  failures\n"
                "  127.0.0.1:7001  host-127.0.0.1:7001  done       1,000        1,000       0          "
                "2,000            0  -\n"
                "  127.0.0.1:7002  host-127.0.0.1:7002  done       1,000          990      10          "
                "1,980            0  EADDRNOTAVAIL 10\n"));
}

TEST(ReportTest, SummaryNeverThrowsOnOddJson) {
  EXPECT_THAT(FormatSummary(nlohmann::ordered_json::array()), HasSubstr("outcome: FAIL"));
  nlohmann::ordered_json odd = {
      {"outcome", 3}, {"totals", "x"}, {"agents", {1, "a"}}, {"failures", {{"EMFILE", "many"}}}};
  EXPECT_THAT(FormatSummary(odd), HasSubstr("outcome: FAIL"));
}

// Host names, errors and failure reasons come from agents and servers: none
// of their control characters reaches the terminal.
TEST(ReportTest, SummaryEscapesWhatAgentsWrote) {
  RunRecord record = PassingRecord();
  record.agents[0].state = AgentState::kFailed;
  record.agents[0].error = "worker died\x1b[2J\ncoordinator: outcome: PASS";
  record.agents[0].last.set_host("lab\x1b]0;title\x07");
  (*record.agents[0].last.mutable_failures())["E\x1b[31mVIL"] = 3;
  record.target = TargetRecord{false, 0, 0, "GetStats: \x1b[H"};
  record.notes.push_back("echo round 1 did not finish in time on \x9b\r");
  const std::string summary = FormatSummary(BuildReport(record).json);
  EXPECT_EQ(summary.find('\x1b'), std::string::npos) << summary;
  EXPECT_EQ(summary.find('\r'), std::string::npos) << summary;
  EXPECT_EQ(summary.find('\x07'), std::string::npos) << summary;
  EXPECT_EQ(summary.find('\x9b'), std::string::npos) << summary;
  EXPECT_THAT(summary, HasSubstr("error: worker died\\x1b[2J\\ncoordinator: outcome: PASS\n"));
  EXPECT_THAT(summary, HasSubstr("  - agent 127.0.0.1:7001 failed: worker died\\x1b[2J\\n"));
  EXPECT_THAT(summary, HasSubstr("lab\\x1b]0;title\\x07"));
  EXPECT_THAT(summary, HasSubstr("  E\\x1b[31mVIL"));
  EXPECT_THAT(summary, HasSubstr("target: no counts (GetStats: \\x1b[H)"));
  EXPECT_THAT(summary, HasSubstr("note: echo round 1 did not finish in time on \\x9b\\r"));
  // Only the summary's own lines: the error's newline did not start one.
  EXPECT_THAT(summary, Not(HasSubstr("\ncoordinator: outcome: PASS")));
}

TEST(ReportTest, InvalidUtf8FromAnAgentIsWritten) {
  RunRecord record = PassingRecord();
  record.agents[0].error = "bad \xff byte";
  record.agents[0].state = AgentState::kFailed;
  const Report report = BuildReport(record);
  char path[] = "/tmp/report_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_TRUE(WriteReport(path, report.json).ok());
  unlink(path);
}

}  // namespace
}  // namespace fourtuple::coordinator
