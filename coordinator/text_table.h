// Plain-text tables for people: columns padded to their widest cell in
// terminal columns (display_width.h), counts right-aligned so their digits
// line up, every cell's control characters escaped (terminal_text.h). Used
// by the preflight capacity table, `coordinator probe` and the end-of-run
// summary.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_TEXT_TABLE_H_
#define FOURTUPLE_COORDINATOR_TEXT_TABLE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fourtuple::coordinator {

// `rows` (the first usually a header), one line each: `indent`, then the
// cells two spaces apart, trailing spaces removed, '\n'. right_aligned[c]
// says how column c aligns (missing entries: left); short rows are padded
// with empty cells. Cells may hold anything: host names, agents' errors.
std::string FormatTextTable(const std::vector<std::vector<std::string>>& rows,
                            const std::vector<bool>& right_aligned = {}, absl::string_view indent = "");

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_TEXT_TABLE_H_
