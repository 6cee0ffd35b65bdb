// The report's load-model parts (docs/plan-and-report.md, "Churn, reconnect
// and close"): totals.churned and totals.reconnected, reconnect_failures,
// recovery, the pass rule a run with churn or reconnect follows, and the
// summary's lines for them.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_LOAD_MODEL_REPORT_H_
#define FOURTUPLE_COORDINATOR_LOAD_MODEL_REPORT_H_

#include <string>
#include <vector>

#include "coordinator/report.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// Whether the run follows the load models' pass rule: with churn or
// reconnect, a connection may close and come back during the hold, so the
// run passes when every connection is open at the end and the last echo
// round verified them all (drops are reported, not failures by themselves).
bool UsesLoadModelPassRule(const Plan& plan);

// Why such a run did not pass (empty when it did), over every agent's last
// report: connections not open at the end, the last round short, mismatches.
std::vector<std::string> LoadModelFailReasons(const RunRecord& record, uint64_t requested);

// Adds totals.churned, totals.reconnected, totals.open_at_end,
// "reconnect_failures", "recovery" and the target's restarts to `report`,
// when the plan has churn or reconnect.
void AddLoadModelReport(const RunRecord& record, nlohmann::ordered_json* report);

// The summary's lines for the same ("" without them).
std::string FormatLoadModelSummary(const nlohmann::ordered_json& report);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_LOAD_MODEL_REPORT_H_
