#include "coordinator/html_text.h"

#include "common/utf8.h"

namespace fourtuple::coordinator {
namespace {

constexpr absl::string_view kReplacement = "\uFFFD";

}  // namespace

void AppendEscapedHtml(std::string* out, absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = DecodeUtf8(text, i).length;
      if (length == 0) {
        out->append(kReplacement.data(), kReplacement.size());
        ++i;
      } else {
        out->append(text.data() + i, length);
        i += length;
      }
      continue;
    }
    switch (c) {
      case '&':
        out->append("&amp;");
        break;
      case '<':
        out->append("&lt;");
        break;
      case '>':
        out->append("&gt;");
        break;
      case '"':
        out->append("&quot;");
        break;
      case '\'':
        out->append("&#39;");
        break;
      case '\n':
      case '\t':
        out->push_back(static_cast<char>(c));
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append(kReplacement.data(), kReplacement.size());
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

std::string EscapeHtml(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscapedHtml(&out, text);
  return out;
}

}  // namespace fourtuple::coordinator
