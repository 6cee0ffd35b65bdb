#include "coordinator/text_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fourtuple::coordinator {

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;  // not a continuation byte
  }
  return width;
}

std::string FormatTextTable(const std::vector<std::vector<std::string>>& rows,
                            const std::vector<bool>& right_aligned, absl::string_view indent) {
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string text(indent);
    for (size_t c = 0; c < columns; ++c) {
      const absl::string_view cell = c < row.size() ? absl::string_view(row[c]) : absl::string_view();
      const std::string padding(widths[c] - DisplayWidth(cell), ' ');
      const bool right = c < right_aligned.size() && right_aligned[c];
      if (c > 0) text += "  ";
      absl::StrAppend(&text, right ? padding : "", cell, right ? "" : padding);
    }
    text.erase(text.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, text, "\n");
  }
  return out;
}

}  // namespace fourtuple::coordinator
