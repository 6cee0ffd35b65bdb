// The run report: the JSON of docs/plan-and-report.md built from each
// agent's last RunReport, the target's counts and the timeline the driver
// sampled, plus the human summary printed at the end of a run.
//
// Everything here is a pure function of a RunRecord, so it is tested with
// synthetic reports.
//
// Thread-safety: plain values and pure functions.
#ifndef FOURTUPLE_COORDINATOR_REPORT_H_
#define FOURTUPLE_COORDINATOR_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "coordinator/plan.h"
#include "coordinator/preflight.h"
#include "nlohmann/json.hpp"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// Every report (run, refused) starts with these two fields, so `coordinator
// report` and `coordinator compare` can tell a report from any other JSON
// and refuse one from a newer coordinator. Bump the version when a field
// changes meaning or moves; adding a field does not need a bump.
inline constexpr char kReportFormat[] = "fourtuple-report";
inline constexpr int kReportFormatVersion = 1;

// How an agent's part of the run ended.
enum class AgentState {
  kDone,    // it sent its final CLOSED report
  kLost,    // its stream broke or it went silent before the end
  kFailed,  // it reported RUN_PHASE_FAILED
};
absl::string_view AgentStateName(AgentState state);  // "done", "lost", "failed"

struct AgentRecord {
  std::string endpoint;
  AgentState state = AgentState::kDone;
  uint64_t requested = 0;  // its share of the plan's connections
  bool has_report = false;
  v1::RunReport last;  // its last report (valid when has_report)
  std::string host;    // from the probe when no report names it
  bool has_facts = false;
  v1::HostFacts facts;  // from the probe (valid when has_facts)
  std::string error;    // why it was lost or failed; the agent's own error
};

struct TimelineSample {
  double t = 0;  // seconds since the run started
  uint64_t open = 0;
  uint64_t established = 0;
  uint64_t failed = 0;
  std::vector<uint64_t> agents_open;  // each agent's open count, in plan order
  // With churn or reconnect (load models): running totals.
  uint64_t churned = 0;
  uint64_t reconnected = 0;
  uint64_t reopening = 0;
};

// Server-side counts from TargetControl.GetStats.
struct TargetRecord {
  bool queried = false;       // at least one GetStats answered
  uint64_t open_at_peak = 0;  // the largest `open` seen
  uint64_t accepted = 0;      // `accepted` at the last answer
  std::string error;          // the last GetStats failure, if any
  uint64_t at_capacity = 0;   // `at_capacity` at the last answer: workers full
  // The target restarted (its start time moved on) this many times while
  // polled; `accepted` adds up every life's last answer.
  uint64_t restarts = 0;
  uint64_t unanswered = 0;  // GetStats calls that failed (the control endpoint was away)
};

struct RunRecord {
  Plan plan;
  std::vector<AgentRecord> agents;
  std::optional<TargetRecord> target;  // set when the plan names target.control
  std::vector<TimelineSample> timeline;
  uint64_t peak_open = 0;          // largest sum of the agents' open counts seen
  double connect_seconds = 0;      // connect command to the barrier
  double echo_seconds = 0;         // time spent in echo rounds
  bool barrier_timed_out = false;  // ramp_timeout passed before every agent finished
  bool interrupted = false;        // SIGINT/SIGTERM cut the run short
  uint64_t open_at_end = 0;        // the agents' open count when the hold ended
  std::vector<std::string> notes;  // other things that went wrong, for the report
};

struct Report {
  bool pass = false;
  nlohmann::ordered_json json;
};

// "pass" only when every requested connection was established, every echo
// round verified on every established connection, every agent finished
// ("done") and the run was not interrupted.
Report BuildReport(const RunRecord& record);

// The end-of-run summary for people: totals, rates, failures with their
// cause and fix, latency percentiles, one line per agent. For a terminal:
// counts grouped (common/human_format.h), and what agents and servers wrote
// (host names, errors, reasons) escaped (terminal_text.h).
std::string FormatSummary(const nlohmann::ordered_json& report);

// The report of a run preflight refused (exit 3, no --force):
// {"outcome": "refused", "what_gave": [{"limit": "memory"}, ...],
//  "preflight_errors": [...], "plan": {...}}.
nlohmann::ordered_json RefusedReport(const Plan& plan, const PreflightResult& preflight);

// The report of a run an agent refused to start after preflight passed (it
// was busy with another run, say; exit 3): {"outcome": "refused",
// "what_gave": [{"limit": "agent", "detail": PROBLEM}, ...],
// "start_errors": [PROBLEM, ...], "plan": {...}}, one entry per problem
// sentence (each names its agent).
nlohmann::ordered_json RefusedStartReport(const Plan& plan, const std::vector<std::string>& problems);

// Writes the report (pretty-printed JSON) to `path` atomically.
absl::Status WriteReport(absl::string_view path, const nlohmann::ordered_json& report);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_REPORT_H_
