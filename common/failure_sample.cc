#include "common/failure_sample.h"

#include <algorithm>

namespace fourtuple {

std::string EscapeSample(absl::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const absl::string_view kept = bytes.substr(0, std::min(bytes.size(), kFailureSampleBytes));
  std::string out;
  out.reserve(kept.size() * 2);
  for (const char ch : kept) {
    const unsigned char byte = static_cast<unsigned char>(ch);
    switch (byte) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          out += ch;
        } else {
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        }
    }
  }
  if (bytes.size() > kept.size()) out += "...";
  return out;
}

}  // namespace fourtuple
