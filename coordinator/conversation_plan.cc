#include "coordinator/conversation_plan.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/id_template.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "common/wire_limits.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {
namespace {

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = DecodeUtf8(text, i).length;
    if (length == 0) return false;
    i += length;
  }
  return true;
}

int HexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// The hex form as template text (templated: "{" bytes doubled, "{id}" kept)
// or bytes.
absl::StatusOr<std::string> FromHex(absl::string_view hex, absl::string_view path, bool templated) {
  std::string out;
  for (size_t i = 0; i < hex.size();) {
    const char ch = hex[i];
    if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
      ++i;
      continue;
    }
    if (ch == '{') {
      if (templated && hex.substr(i, 4) == "{id}") {
        out += "{id}";
        i += 4;
        continue;
      }
      return FieldError(path, absl::StrCat("\"", hex.substr(i, 6), "\" at character ", i,
                                           templated ? " is not a template: write {id} (lowercase) for the "
                                                       "connection's id"
                                                     : " is not hex (this field takes no {id})"));
    }
    const int high = HexValue(ch);
    const int low = i + 1 < hex.size() ? HexValue(hex[i + 1]) : -1;
    if (high < 0 || low < 0) {
      return FieldError(
          path, absl::StrCat("expected pairs of hex digits", templated ? " and {id}" : "",
                             " (spaces ignored), got ", QuoteJson(hex.substr(i, 2)), " at character ", i));
    }
    const char byte = static_cast<char>(high * 16 + low);
    out += byte;
    if (templated && byte == '{') out += '{';
    i += 2;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadConversationBytes(const nlohmann::json& value, absl::string_view path,
                                                  bool templated) {
  const std::string bytes =
      absl::StrCat("a string of 1 to ", kMaxSendExpectBytes, " bytes (JSON escapes such as \\r\\n work)");
  const std::string expected = absl::StrCat(bytes, " or {\"hex\": \"c0 00\"}");
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_object()) {
    RETURN_IF_ERROR(CheckKnownFields(value, path, {"hex"}));
    if (!value.contains("hex") || !value["hex"].is_string()) {
      return WrongType(absl::StrCat(path, ".hex"), "a string of hex digit pairs",
                       value.contains("hex") ? value["hex"] : nlohmann::json());
    }
    ASSIGN_OR_RETURN(text, FromHex(value["hex"].get<std::string>(), absl::StrCat(path, ".hex"), templated));
  } else {
    return WrongType(path, expected, value);
  }
  size_t size = text.size();
  if (templated) {
    absl::StatusOr<IdTemplate> parsed = IdTemplate::Parse(text);
    if (!parsed.ok()) return FieldError(path, parsed.status().message());
    size = parsed->size();
  }
  if (size == 0 || size > kMaxSendExpectBytes) {
    return FieldError(path, absl::StrCat("expected ", bytes, ", got ", size, " bytes"));
  }
  return text;
}

nlohmann::ordered_json ConversationBytesToJson(const std::string& text, bool templated) {
  if (IsValidUtf8(text)) return text;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < text.size(); ++i) {
    if (templated && text.compare(i, 4, "{id}") == 0) {
      hex += "{id}";
      i += 3;
      continue;
    }
    if (templated && text.compare(i, 2, "{{") == 0) ++i;  // one "{" byte
    const unsigned char byte = static_cast<unsigned char>(text[i]);
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return {{"hex", hex}};
}

}  // namespace fourtuple::coordinator
