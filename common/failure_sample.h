// What a server really said: the first bytes of one reply that failed a
// connection, kept per failure reason ("echo_mismatch", "greeting_mismatch",
// ...) and shown in the report, the summary and the live progress.
//
// The bytes are the server's, so they are untrusted: EscapeSample turns them
// into plain printable ASCII before anything displays or stores them as text.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_FAILURE_SAMPLE_H_
#define FOURTUPLE_COMMON_FAILURE_SAMPLE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace fourtuple {

// Bytes a sample keeps at most: enough for a status line or an error reply
// ("-DENIED Redis is running in protected mode because ..."), little enough
// to keep a fixed slot per reason in every worker's shared block.
inline constexpr size_t kFailureSampleBytes = 64;

// The first kFailureSampleBytes of `bytes` as printable ASCII: 0x20..0x7e
// as they are except backslash and double quote ("\\", "\""); \r \n \t \0
// as those escapes; every other byte (control bytes, anything >= 0x80,
// UTF-8 included) as "\xHH" (lowercase). Longer input ends in "...".
std::string EscapeSample(absl::string_view bytes);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_FAILURE_SAMPLE_H_
