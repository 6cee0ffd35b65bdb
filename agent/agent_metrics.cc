#include "agent/agent_metrics.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/prometheus_text.h"

namespace fourtuple::agent {
namespace {

// "connecting" for RUN_PHASE_CONNECTING.
std::string PhaseName(int phase) {
  std::string name(absl::StripPrefix(v1::RunPhase_Name(phase), "RUN_PHASE_"));
  absl::AsciiStrToLower(&name);
  return name;
}

}  // namespace

void AgentMetrics::Totals::Add(const v1::RunReport& report) {
  attempted += report.attempted();
  established += report.established();
  failed += report.failed();
  closed_by_peer += report.closed_by_peer();
  echo_sent += report.echo_sent();
  echo_verified += report.echo_verified();
  echo_mismatched += report.echo_mismatched();
  echo_timed_out += report.echo_timed_out();
  echo_closed += report.echo_closed();
  for (const auto& [reason, count] : report.failures()) failures[reason] += count;
  connect_latency.Merge(report.connect_latency());
  echo_rtt.Merge(report.echo_rtt());
}

void AgentMetrics::RunStarted() {
  absl::MutexLock lock(&mu_);
  ++runs_started_;
  active_.emplace();
  last_phase_ = v1::RUN_PHASE_UNSPECIFIED;  // workers starting
}

void AgentMetrics::Update(const v1::RunReport& report) {
  absl::MutexLock lock(&mu_);
  if (!active_.has_value()) return;  // a report after RunEnded: already counted
  *active_ = report;
  last_phase_ = report.phase();
}

void AgentMetrics::RunEnded(const v1::RunReport& last, bool ok) {
  absl::MutexLock lock(&mu_);
  if (!active_.has_value()) return;
  finished_.Add(last);
  active_.reset();
  last_phase_ = ok ? v1::RUN_PHASE_CLOSED : v1::RUN_PHASE_FAILED;
  if (!ok) ++runs_failed_;
}

std::string AgentMetrics::Render() const {
  Totals totals;
  v1::RunReport active;
  bool running = false;
  v1::RunPhase phase;
  uint64_t runs_started = 0;
  uint64_t runs_failed = 0;
  {
    absl::MutexLock lock(&mu_);
    totals = finished_;
    if (active_.has_value()) {
      running = true;
      active = *active_;
    }
    phase = last_phase_;
    runs_started = runs_started_;
    runs_failed = runs_failed_;
  }
  if (running) totals.Add(active);  // an idle agent renders an empty report: zeros

  PrometheusText out;
  out.Gauge("fourtuple_agent_run_active", "1 while a run holds worker processes, else 0.",
            uint64_t{running ? 1u : 0u});
  out.Family("fourtuple_agent_run_phase", "gauge",
             "The active run's phase (1 for the current phase, 0 for the others); when idle, how the "
             "last run ended (closed or failed); unspecified before any run and while workers start.");
  for (int p = v1::RunPhase_MIN; p <= v1::RunPhase_MAX; ++p) {
    if (!v1::RunPhase_IsValid(p)) continue;
    out.Sample("fourtuple_agent_run_phase", {{"phase", PhaseName(p)}}, uint64_t{p == phase ? 1u : 0u});
  }
  out.Counter("fourtuple_agent_runs_total", "Runs started since the agent started.", runs_started);
  out.Counter("fourtuple_agent_runs_failed_total", "Runs that ended FAILED or lost their coordinator.",
              runs_failed);
  out.Gauge("fourtuple_agent_worker_processes", "Worker processes of the active run.",
            uint64_t{active.processes()});
  out.Gauge("fourtuple_agent_requested_connections", "Connections the active run asked of this agent.",
            active.requested());
  out.Gauge("fourtuple_agent_open_connections", "Connections established and still open (active run).",
            active.open());
  out.Gauge("fourtuple_agent_in_flight_connections", "Connects pending (active run).", active.in_flight());

  out.Counter("fourtuple_agent_connects_attempted_total", "connect() calls made.", totals.attempted);
  out.Counter("fourtuple_agent_connects_established_total", "Connections established.", totals.established);
  out.Counter("fourtuple_agent_connections_failed_total",
              "Connections that failed, any reason (connect errors, timeouts, peer closes, echo failures).",
              totals.failed);
  out.Family("fourtuple_agent_failures_total", "counter",
             "Connection failures by reason: errno names, connect_timeout, peer_closed, echo_mismatch, "
             "echo_timeout; a reason appears once it has happened.");
  for (const auto& [reason, count] : totals.failures) {
    if (count != 0) out.Sample("fourtuple_agent_failures_total", {{"reason", reason}}, count);
  }
  out.Counter("fourtuple_agent_closed_by_peer_total", "Established connections the far side closed or reset.",
              totals.closed_by_peer);
  out.Counter("fourtuple_agent_echo_sent_total", "Echo payloads sent (all rounds).", totals.echo_sent);
  out.Counter("fourtuple_agent_echo_verified_total", "Echo payloads that came back exactly.",
              totals.echo_verified);
  out.Family("fourtuple_agent_echo_failed_total", "counter",
             "Echo checks that failed: mismatched bytes, timed out, or connection closed while waiting.");
  out.Sample("fourtuple_agent_echo_failed_total", {{"reason", "mismatched"}}, totals.echo_mismatched);
  out.Sample("fourtuple_agent_echo_failed_total", {{"reason", "timed_out"}}, totals.echo_timed_out);
  out.Sample("fourtuple_agent_echo_failed_total", {{"reason", "closed"}}, totals.echo_closed);
  out.HistogramSeconds("fourtuple_agent_connect_latency_seconds", "connect() to established.",
                       totals.connect_latency, kLatencyBucketsSeconds);
  out.HistogramSeconds("fourtuple_agent_echo_rtt_seconds", "Echo payload sent to its last byte back.",
                       totals.echo_rtt, kLatencyBucketsSeconds);
  return out.Take();
}

}  // namespace fourtuple::agent
