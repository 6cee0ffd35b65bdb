#include "coordinator/text_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/terminal_text.h"
#include "coordinator/display_width.h"

namespace fourtuple::coordinator {

std::string FormatTextTable(const std::vector<std::vector<std::string>>& rows,
                            const std::vector<bool>& right_aligned, absl::string_view indent) {
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<std::vector<std::string>> cells(rows.size(), std::vector<std::string>(columns));
  std::vector<size_t> widths(columns, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      cells[r][c] = EscapeForTerminal(rows[r][c]);
      widths[c] = std::max(widths[c], DisplayWidth(cells[r][c]));
    }
  }
  std::string out;
  for (const auto& row : cells) {
    std::string text(indent);
    for (size_t c = 0; c < columns; ++c) {
      const std::string padding(widths[c] - DisplayWidth(row[c]), ' ');
      const bool right = c < right_aligned.size() && right_aligned[c];
      if (c > 0) text += "  ";
      absl::StrAppend(&text, right ? padding : "", row[c], right ? "" : padding);
    }
    text.erase(text.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, text, "\n");
  }
  return out;
}

}  // namespace fourtuple::coordinator
