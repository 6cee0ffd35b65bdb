// Failure samples in the coordinator: what a server really said when its
// reply failed a connection (common/failure_sample.h). Agents send the raw
// bytes (RunReport.failure_samples); the report carries them escaped, per
// agent, under "failure_samples" {"echo_mismatch": "-DENIED Redis ..."}; the
// summary prints one per reason under that reason's count, the HTML report
// beside the agent's failures, and the live progress announces each reason's
// first sample once.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_FAILURE_SAMPLES_H_
#define FOURTUPLE_COORDINATOR_FAILURE_SAMPLES_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "coordinator/untrusted_json.h"
#include "google/protobuf/map.h"

namespace fourtuple::coordinator {

// {reason: escaped sample} for one agent's report, sorted by reason.
ReportJson FailureSamplesJson(const google::protobuf::Map<std::string, std::string>& samples);

// The first agent's sample per reason over a report's "agents" (strings
// only; anything else is skipped: a report file is untrusted).
std::map<std::string, std::string> FirstSamples(const ReportJson& agents);

// The summary's line under a reason's count: `  <indent> reply: "<sample>"`
// (no newline), escaped for the terminal.
std::string FormatSampleLine(size_t indent, absl::string_view sample);

// The live progress line for a reason's first sample (no newline):
// "[   0.4s] agent A: echo_mismatch, the target said: "-DENIED ..."".
std::string FormatSampleAnnouncement(double elapsed_seconds, absl::string_view agent,
                                     absl::string_view reason, absl::string_view raw_sample);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_FAILURE_SAMPLES_H_
