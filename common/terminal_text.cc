#include "common/terminal_text.h"

#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace fourtuple {
namespace {

// C1 controls, and the formatting characters that reorder or isolate the
// text after them (U+202A..U+202E, U+2066..U+2069).
bool IsHiddenControl(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace

std::string EscapeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = DecodeUtf8(text, i);
    if (c.length == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (c.code_point == '\n') {
      out += "\\n";
    } else if (c.code_point == '\r') {
      out += "\\r";
    } else if (c.code_point == '\t') {
      out += "\\t";
    } else if (c.code_point < 0x20 || c.code_point == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned>(c.code_point));
    } else if (IsHiddenControl(c.code_point)) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned>(c.code_point));
    } else {
      out.append(text.data() + i, c.length);
    }
    i += c.length;
  }
  return out;
}

}  // namespace fourtuple
