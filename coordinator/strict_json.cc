#include "coordinator/strict_json.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Converts the byte offset of a JSON syntax error into "line L, column C"
// (both from 1; the column counts bytes).
std::string LineAndColumn(absl::string_view text, size_t position) {
  // nlohmann reports the count of characters read, the offending one included.
  size_t offset = position > 0 ? position - 1 : 0;
  if (offset > text.size()) offset = text.size();
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::StrCat("line ", line, ", column ", offset - line_start + 1);
}

// A SAX pass that finds what the DOM parser only flags: where the syntax is
// broken, and keys that appear twice in one object (which the DOM parser
// silently resolves to the last one).
class StrictSax : public nlohmann::json_sax<json> {
 public:
  StrictSax(absl::string_view text, absl::string_view root) : text_(text), root_(root) {}

  const absl::Status& status() const { return status_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }

  bool start_object(std::size_t) override {
    Value();
    frames_.push_back(Frame{true, "", -1, {}});
    return true;
  }
  bool key(string_t& name) override {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(name).second && status_.ok()) {
      status_ = FieldError(absl::StrCat(Path(), ".", name), "field appears twice in one object");
    }
    frame.key = name;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    Value();
    frames_.push_back(Frame{false, "", -1, {}});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) override {
    // error.what(): "[json.exception.parse_error.101] parse error at line 1,
    // column 9: syntax error while parsing ..."; keep the part after the
    // position, which says what was expected.
    absl::string_view what = error.what();
    const size_t colon = what.find(": ");
    absl::string_view detail = colon == absl::string_view::npos ? what : what.substr(colon + 2);
    status_ = absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at ", LineAndColumn(text_, position), ": ", detail));
    return false;
  }

 private:
  struct Frame {
    bool is_object;
    std::string key;  // objects: the latest key
    int64_t index;    // arrays: the latest element
    std::set<std::string> keys;
  };

  // Every value (scalar or container) advances the enclosing array's index.
  bool Value() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
    return true;
  }

  std::string Path() const {
    std::string path(root_);
    // The innermost frame is the object holding the duplicate key: its own
    // key is not part of the path.
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& frame = frames_[i];
      if (frame.is_object) {
        absl::StrAppend(&path, ".", frame.key);
      } else {
        absl::StrAppend(&path, "[", frame.index, "]");
      }
    }
    return path;
  }

  absl::string_view text_;
  absl::string_view root_;
  std::vector<Frame> frames_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<json> ParseStrictJson(absl::string_view text, absl::string_view root) {
  StrictSax sax(text, root);
  // The SAX pass stops at the first syntax error; its result is the status.
  json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json, true);
  if (!sax.status().ok()) return sax.status();
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("invalid JSON");
  return parsed;
}

absl::Status FieldError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

std::string QuoteJson(absl::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string DescribeJsonValue(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::string:
      return absl::StrCat("the string ", QuoteJson(value.get<std::string>()));
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    default:
      return value.dump();  // numbers as written
  }
}

absl::Status WrongType(absl::string_view path, absl::string_view expected, const json& value) {
  return FieldError(path, absl::StrCat("expected ", expected, ", got ", DescribeJsonValue(value)));
}

absl::Status CheckKnownFields(const json& object, absl::string_view path,
                              const std::vector<absl::string_view>& known) {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    absl::string_view best;
    size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
    for (absl::string_view name : known) {
      const size_t distance = EditDistance(absl::AsciiStrToLower(key), name);
      if (distance < best_distance) {
        best = name;
        best_distance = distance;
      }
    }
    std::string message = "unknown field";
    if (!best.empty()) {
      absl::StrAppend(&message, " (did you mean ", QuoteJson(best), "?)");
    } else {
      absl::StrAppend(&message, " (known: ", absl::StrJoin(known, ", "), ")");
    }
    return FieldError(absl::StrCat(path, ".", key), message);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReadCount(const json& value, absl::string_view path, uint64_t min, uint64_t max) {
  const std::string expected = absl::StrCat("a whole number from ", min, " to ", max);
  if (value.is_number_integer()) {  // parsed text gives unsigned; built values may be signed
    if (!value.is_number_unsigned() && value.get<int64_t>() < 0) return WrongType(path, expected, value);
    const uint64_t number = value.get<uint64_t>();
    if (number < min || number > max) return WrongType(path, expected, value);
    return number;
  }
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isfinite(number) && number == std::floor(number) && number >= static_cast<double>(min) &&
        number <= static_cast<double>(max)) {
      return static_cast<uint64_t>(number);
    }
  }
  return WrongType(path, expected, value);
}

absl::StatusOr<std::string> ReadString(const json& value, absl::string_view path) {
  if (!value.is_string()) return WrongType(path, "a string", value);
  return value.get<std::string>();
}

absl::StatusOr<absl::Duration> ReadDuration(const json& value, absl::string_view path,
                                            absl::Duration min_value, absl::Duration max_value) {
  if (!value.is_string()) {
    return WrongType(path, "a duration string such as \"500ms\" or \"10s\"", value);
  }
  absl::StatusOr<absl::Duration> duration = ParseDuration(value.get<std::string>());
  if (!duration.ok()) return FieldError(path, duration.status().message());
  if (*duration < min_value) {
    return FieldError(path, absl::StrCat("must be at least ", absl::FormatDuration(min_value), ", got ",
                                         value.get<std::string>()));
  }
  if (*duration > max_value) {
    return FieldError(path, absl::StrCat("must be at most ", absl::FormatDuration(max_value), ", got ",
                                         value.get<std::string>()));
  }
  return *duration;
}

}  // namespace fourtuple::coordinator
