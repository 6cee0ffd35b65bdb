// How many terminal columns text takes, so tables of host names, endpoints
// and reasons line up whatever script they are written in: CJK ideographs,
// kana, Hangul and most emoji take two columns, combining marks (the accent
// of a decomposed "é") and format characters none, the rest one.
//
// The tables come from the Unicode database (scripts/display_width_table.py);
// terminals that draw a character otherwise (an emoji older fonts lack) are
// off by its difference.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_DISPLAY_WIDTH_H_
#define FOURTUPLE_COORDINATOR_DISPLAY_WIDTH_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace fourtuple::coordinator {

// Columns of one code point: 0 (combining, format and control characters),
// 2 (East Asian Wide and Fullwidth) or 1.
int CharWidth(char32_t code_point);

// Columns of UTF-8 text: "×" is one column in two bytes, "日本" four in six.
// A byte that is not part of well-formed UTF-8 counts one (terminals draw
// a replacement character for it).
size_t DisplayWidth(absl::string_view text);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_DISPLAY_WIDTH_H_
