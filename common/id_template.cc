#include "common/id_template.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fourtuple {
namespace {

constexpr absl::string_view kIdToken = "{id}";

// What follows a "{" at `at`, shown in an error: up to the next "}" or 8 bytes.
std::string Excerpt(absl::string_view text, size_t at) {
  const size_t close = text.find('}', at);
  const size_t end = close == absl::string_view::npos ? std::min(text.size(), at + 8) : close + 1;
  std::string out;
  for (const char ch : text.substr(at, std::min<size_t>(end - at, 12))) {
    out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  return out;
}

}  // namespace

void FormatId(uint64_t id, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = kIdDigits - 1; i >= 0; --i) {
    out[i] = kHex[id & 0xf];
    id >>= 4;
  }
}

absl::StatusOr<IdTemplate> IdTemplate::Parse(absl::string_view text) {
  IdTemplate out;
  out.literal_.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '{') {
      out.literal_ += text[i++];
      continue;
    }
    if (text.substr(i, 2) == "{{") {
      out.literal_ += '{';
      i += 2;
      continue;
    }
    if (text.substr(i, kIdToken.size()) == kIdToken) {
      out.id_offsets_.push_back(static_cast<uint32_t>(out.literal_.size()));
      out.literal_.append(kIdDigits, '\0');
      i += kIdToken.size();
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("\"", Excerpt(text, i), "\" at byte ", i,
                     " is not a template: write {id} (lowercase) for the connection's id, or {{ for a "
                     "literal {"));
  }
  return out;
}

IdTemplate IdTemplate::Literal(absl::string_view bytes) {
  IdTemplate out;
  out.literal_ = std::string(bytes);
  return out;
}

void IdTemplate::Fill(uint64_t id, size_t offset, size_t size, char* out) const {
  std::memcpy(out, literal_.data() + offset, size);
  if (id_offsets_.empty()) return;
  char digits[kIdDigits];
  FormatId(id, digits);
  const size_t end = offset + size;
  for (const uint32_t at : id_offsets_) {
    if (at >= end) break;
    if (at + kIdDigits <= offset) continue;
    const size_t from = std::max<size_t>(at, offset);
    const size_t to = std::min<size_t>(at + kIdDigits, end);
    std::memcpy(out + (from - offset), digits + (from - at), to - from);
  }
}

bool IdTemplate::Matches(uint64_t id, size_t offset, const char* data, size_t size) const {
  if (id_offsets_.empty()) return std::memcmp(literal_.data() + offset, data, size) == 0;
  char digits[kIdDigits];
  FormatId(id, digits);
  // Literal stretches compare against literal_, id stretches against digits.
  size_t pos = offset;
  const size_t end = offset + size;
  for (const uint32_t at : id_offsets_) {
    if (pos >= end) break;
    if (at + kIdDigits <= pos) continue;
    if (at > pos) {
      const size_t to = std::min<size_t>(at, end);
      if (std::memcmp(literal_.data() + pos, data + (pos - offset), to - pos) != 0) return false;
      pos = to;
      if (pos >= end) break;
    }
    const size_t to = std::min<size_t>(at + kIdDigits, end);
    if (std::memcmp(digits + (pos - at), data + (pos - offset), to - pos) != 0) return false;
    pos = to;
  }
  return pos >= end || std::memcmp(literal_.data() + pos, data + (pos - offset), end - pos) == 0;
}

std::string EscapeTemplateBraces(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    out += ch;
    if (ch == '{') out += '{';
  }
  return out;
}

}  // namespace fourtuple
