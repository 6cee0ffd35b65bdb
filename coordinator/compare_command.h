// `coordinator compare A.json B.json`: two saved reports side by side on the
// terminal, each figure with B's value over A's, so a change (a kernel
// setting, a new build, another host) reads as "connect rate 1.8x, p99
// 0.5x" without opening two pages.
//
// Thread-safety: ExecuteCompareCommand blocks its thread; CompareReports is
// a pure function.
#ifndef FOURTUPLE_COORDINATOR_COMPARE_COMMAND_H_
#define FOURTUPLE_COORDINATOR_COMPARE_COMMAND_H_

#include <string>
#include <vector>

#include "coordinator/cli.h"
#include "coordinator/untrusted_json.h"

namespace fourtuple::coordinator {

// The comparison's rows: a header {"", name_a, name_b, "B/A"}, then one row
// per figure: outcome, connection counts, rates and durations, latency
// percentiles, the target's counts and the agents' memory when either
// report has them, and every failure reason either run saw. A figure a
// report lacks shows "-"; the ratio is blank unless both figures are there
// and A's is not zero. Numbers as common/human_format.h writes them.
std::vector<std::vector<std::string>> CompareReports(const ReportJson& a, const ReportJson& b,
                                                     const std::string& name_a, const std::string& name_b);

// Loads both files (report_command.h's checks), prints the table to stdout.
// 0 on success; 2 naming the file that is not a readable report.
int ExecuteCompareCommand(const CommandLine& command_line);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_COMPARE_COMMAND_H_
