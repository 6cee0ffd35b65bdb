// Durations written as in plans and flags: "500ms", "10s", "2m", "1h",
// "1.5s", "250us" (units: ns, us, ms, s, m, h). A bare number is refused (the
// unit must be explicit).
#ifndef FOURTUPLE_COMMON_DURATION_H_
#define FOURTUPLE_COMMON_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fourtuple {

// Error text names the input and what was expected; negative is refused.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// A form that ParseDuration reads back exactly (to the nanosecond): the
// shortest text among the units in which the value is at least 1, larger unit
// on a tie: "1.5s", "500ms", "90s", "2m", "0s". Negative durations get a "-"
// (which ParseDuration refuses) and infinite ones "inf". Not named
// FormatDuration: argument-dependent lookup would also find
// absl::FormatDuration and make every unqualified call ambiguous.
std::string DurationToString(absl::Duration d);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_DURATION_H_
