// Strict reading of JSON that people write by hand (the run plan), apart
// from any one schema:
//  - broken syntax is reported at its line and column;
//  - a key that appears twice in one object is refused (a DOM parser
//    silently keeps the last one);
//  - an unknown key is refused, naming the nearest known one ("did you
//    mean ...?");
//  - every error names the field's path ("plan.agents[1].connections") and
//    what was expected, so the file can be fixed without reading code.
// Every error is InvalidArgument, its message "PATH: what is wrong".
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_STRICT_JSON_H_
#define FOURTUPLE_COORDINATOR_STRICT_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace fourtuple::coordinator {

// Parses `text`. `root` names the document in paths: with "plan", a
// duplicate key is "plan.agents[0].endpoint: field appears twice in one
// object"; a syntax error is "invalid JSON at line 3, column 7: ...".
absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, absl::string_view root);

// "PATH: MESSAGE".
absl::Status FieldError(absl::string_view path, absl::string_view message);

// `text` as a JSON string literal: quoted, with escapes (invalid UTF-8
// replaced), so any text reads unambiguously in a message.
std::string QuoteJson(absl::string_view text);

// How a value is named in an error: "null", "true", "the string \"5\"",
// "an object", "an array", or a number as written.
std::string DescribeJsonValue(const nlohmann::json& value);

// "PATH: expected EXPECTED, got " and the value described.
absl::Status WrongType(absl::string_view path, absl::string_view expected, const nlohmann::json& value);

// Refuses the first key of `object` that is not in `known`, suggesting the
// nearest known name when one is close (case aside), else listing them all.
absl::Status CheckKnownFields(const nlohmann::json& object, absl::string_view path,
                              const std::vector<absl::string_view>& known);

// A whole number in [min, max]; a float such as 1e5 counts when it is whole.
absl::StatusOr<uint64_t> ReadCount(const nlohmann::json& value, absl::string_view path, uint64_t min,
                                   uint64_t max);

absl::StatusOr<std::string> ReadString(const nlohmann::json& value, absl::string_view path);

// A duration string as common/duration.h reads it ("500ms", "10s"), from
// `min_value` to `max_value`.
absl::StatusOr<absl::Duration> ReadDuration(const nlohmann::json& value, absl::string_view path,
                                            absl::Duration min_value,
                                            absl::Duration max_value = absl::InfiniteDuration());

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_STRICT_JSON_H_
