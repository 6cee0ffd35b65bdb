// Parts of the run summary that count and word checks for what the run did:
// echo checks planned / ran / passed / failed / skipped (and why), latency
// rows that say n/a when nothing was measured, and failure hints worded for
// the plan's echo mode (the unique-id echo or echo.send/echo.expect).
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_SUMMARY_CHECKS_H_
#define FOURTUPLE_COORDINATOR_SUMMARY_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// What became of the run's echo checks (rounds x established connections).
struct EchoCheckCounts {
  uint64_t planned = 0;
  uint64_t ran = 0;  // payloads sent
  uint64_t passed = 0;
  uint64_t failed = 0;   // mismatched, timed out or closed while awaited
  uint64_t skipped = 0;  // planned but never sent
  std::string skipped_because;
};

struct EchoCheckInputs {
  uint32_t rounds = 0;
  uint64_t established = 0;
  uint64_t sent = 0;
  uint64_t verified = 0;
  uint64_t failed = 0;
  uint64_t mismatched = 0;
  uint64_t closed_by_peer = 0;
  bool interrupted = false;
  bool send_expect = false;  // the plan's echo.send/echo.expect mode
};

EchoCheckCounts CountEchoChecks(const EchoCheckInputs& in);

// Report latency_ms entry from a histogram's figures: null percentiles when
// count is 0 (there is no latency to give, and 0 would claim one).
nlohmann::ordered_json LatencyEntry(uint64_t count, double p50_ms, double p99_ms, double p999_ms,
                                    double max_ms);

// The summary's latency table: one row per latency_ms entry present, n/a
// for a figure that is missing or null.
std::string FormatLatencyTable(const nlohmann::ordered_json& latency);

// "echo checks: ..." line from totals (empty when the report has no counts).
std::string FormatEchoChecks(const nlohmann::ordered_json& totals);

// The cause and fix for a failure reason, worded for the plan's echo mode.
std::string ModeReasonHint(absl::string_view reason, const nlohmann::ordered_json& plan);

// For echo_mismatch under echo.send/echo.expect: what was expected and, when
// an agent kept a sample, what was received. Empty otherwise.
std::string FormatMismatchDetail(const nlohmann::ordered_json& report);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_SUMMARY_CHECKS_H_
