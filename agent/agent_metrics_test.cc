#include "agent/agent_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::RunReport Report(v1::RunPhase phase, uint64_t established, uint64_t open) {
  v1::RunReport report;
  report.set_phase(phase);
  report.set_processes(2);
  report.set_requested(10);
  report.set_attempted(established + 1);
  report.set_established(established);
  report.set_open(open);
  report.set_failed(1);
  (*report.mutable_failures())["ECONNREFUSED"] = 1;
  report.set_echo_verified(established);
  report.set_echo_timed_out(2);
  Histogram latency;
  for (uint64_t i = 0; i < established; ++i) latency.Record(200);  // 0.2 ms
  latency.ToProto(report.mutable_connect_latency());
  return report;
}

TEST(AgentMetricsTest, IdleAgentShowsZeros) {
  AgentMetrics metrics;
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_active 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"unspecified\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"connecting\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_open_connections 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_established_total 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connect_latency_seconds_count 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("fourtuple_agent_failures_total{")));
}

TEST(AgentMetricsTest, ActiveRunShowsItsLatestReport) {
  AgentMetrics metrics;
  metrics.RunStarted();
  metrics.Update(Report(v1::RUN_PHASE_CONNECTING, 3, 3));
  metrics.Update(Report(v1::RUN_PHASE_CONNECTED, 9, 8));
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_active 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"connected\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"connecting\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_open_connections 8\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_requested_connections 10\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_worker_processes 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_attempted_total 10\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_established_total 9\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_failures_total{reason=\"ECONNREFUSED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_echo_verified_total 9\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_echo_failed_total{reason=\"timed_out\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connect_latency_seconds_bucket{le=\"0.0001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connect_latency_seconds_bucket{le=\"0.00025\"} 9\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connect_latency_seconds_count 9\n"));
}

TEST(AgentMetricsTest, CountersAccumulateOverRunsAndGaugesResetWhenIdle) {
  AgentMetrics metrics;
  metrics.RunStarted();
  metrics.Update(Report(v1::RUN_PHASE_CONNECTED, 9, 9));
  metrics.RunEnded(Report(v1::RUN_PHASE_CLOSED, 10, 0), /*ok=*/true);
  metrics.Update(Report(v1::RUN_PHASE_CONNECTED, 99, 99));  // late: ignored
  std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_active 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"closed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_open_connections 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_requested_connections 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_established_total 10\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_runs_total 1\n"));

  metrics.RunStarted();
  metrics.Update(Report(v1::RUN_PHASE_CONNECTING, 4, 4));
  text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_established_total 14\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_failures_total{reason=\"ECONNREFUSED\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_open_connections 4\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connect_latency_seconds_count 14\n"));

  metrics.RunEnded(Report(v1::RUN_PHASE_FAILED, 4, 0), /*ok=*/false);
  text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_run_phase{phase=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_runs_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_runs_failed_total 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfourtuple_agent_connects_established_total 14\n"));
}

}  // namespace
}  // namespace fourtuple::agent
