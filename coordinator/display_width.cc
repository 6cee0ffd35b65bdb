#include "coordinator/display_width.h"

#include <algorithm>
#include <iterator>

#include "common/utf8.h"

namespace fourtuple::coordinator {
namespace {

struct CodePointRange {
  char32_t first;
  char32_t last;
};

#include "coordinator/display_width_table.inc"

// `table` is sorted and its ranges do not overlap.
template <size_t N>
bool InTable(const CodePointRange (&table)[N], char32_t code_point) {
  const CodePointRange* it =
      std::upper_bound(std::begin(table), std::end(table), code_point,
                       [](char32_t value, const CodePointRange& range) { return value < range.first; });
  return it != std::begin(table) && code_point <= std::prev(it)->last;
}

}  // namespace

int CharWidth(char32_t code_point) {
  if (code_point < 0x20 || (code_point >= 0x7F && code_point < 0xA0)) return 0;  // controls
  if (code_point < 0x300) return 1;  // Latin and its supplements: the common case, no search
  if (InTable(kZeroWidth, code_point)) return 0;
  if (InTable(kDoubleWidth, code_point)) return 2;
  return 1;
}

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = DecodeUtf8(text, i);
    if (c.length == 0) {
      ++width;
      ++i;
      continue;
    }
    width += static_cast<size_t>(CharWidth(c.code_point));
    i += c.length;
  }
  return width;
}

}  // namespace fourtuple::coordinator
