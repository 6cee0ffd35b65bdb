// Durations written as in plans and flags: "500ms", "10s", "2m", "1h",
// "1.5s", "250us". A bare number is refused (the unit must be explicit).
#ifndef FOURTUPLE_COMMON_DURATION_H_
#define FOURTUPLE_COMMON_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fourtuple {

// Error text names the input and what was expected; negative is refused.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// The shortest form that ParseDuration reads back: "1.5s", "500ms".
std::string FormatDuration(absl::Duration d);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_DURATION_H_
