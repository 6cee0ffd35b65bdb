// UTF-8 reading for text that may not be UTF-8: host names, error texts and
// plan strings come from agents, servers and users.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_UTF8_H_
#define FOURTUPLE_COMMON_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace fourtuple {

struct Utf8Char {
  char32_t code_point = 0;
  // Bytes the character takes; 0 when the bytes there are not one.
  size_t length = 0;
};

// The character starting at text[i] (i < text.size()). Length 0 for what is
// not well-formed UTF-8: a stray continuation byte, a sequence cut short,
// an overlong form, a surrogate or a code point past U+10FFFF.
Utf8Char DecodeUtf8(absl::string_view text, size_t i);

// At most `max_chars` characters of `text`, with "…" appended when it was
// cut. Cuts only before a lead byte, never inside a sequence; a byte that is
// not a continuation byte counts as one character.
std::string TruncateUtf8(absl::string_view text, size_t max_chars);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_UTF8_H_
