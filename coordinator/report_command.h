// `coordinator report FILE.json [--html=FILE.html]`: reads a report a run
// saved, prints its summary and renders it as the HTML page, so a page can
// be made again (after an upgrade, or for a report copied from elsewhere)
// without running again. Also the loading and checking of saved reports that
// `coordinator compare` shares.
//
// Thread-safety: each call blocks its thread for the whole command; the
// checks are pure functions.
#ifndef FOURTUPLE_COORDINATOR_REPORT_COMMAND_H_
#define FOURTUPLE_COORDINATOR_REPORT_COMMAND_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/cli.h"
#include "coordinator/untrusted_json.h"

namespace fourtuple::coordinator {

// A long run's timeline makes a big report; anything past this is not one.
inline constexpr size_t kMaxReportFileBytes = size_t{256} << 20;

// OK when `json` says it is a report (report.h's kReportFormat) of a format
// version this coordinator reads (1 to kReportFormatVersion); otherwise why
// not: "has no \"format\" field: not a fourtuple report", "is format version
// 2, newer than this coordinator reads (1): use a newer coordinator".
absl::Status CheckReportFormat(const ReportJson& json);

// Reads `path` (a regular file), parses it as JSON and checks it with
// CheckReportFormat. Errors start with the path: "a.json is not JSON: ...".
absl::StatusOr<ReportJson> LoadReportFile(const std::string& path);

// Prints the summary to stdout and writes the page to --html when given.
// 0 on success; 2 when the file is not a readable report or the page cannot
// be written (the reason on stderr).
int ExecuteReportCommand(const CommandLine& command_line);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_REPORT_COMMAND_H_
