// The shared-secret token that agents and target-server's TargetControl may
// require of every call (--token-file): reading it strictly from its file and
// comparing a presented token without leaking, through timing, how much of it
// was right.
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COMMON_AUTH_TOKEN_H_
#define FOURTUPLE_COMMON_AUTH_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// A token shorter than this is refused: a guessable secret is no secret.
inline constexpr size_t kMinTokenLength = 16;
// Far past any sensible secret; keeps the call metadata small.
inline constexpr size_t kMaxTokenLength = 4096;

// Reads the token from `path`: the whole file, less one trailing "\n" (or
// "\r\n"). Refuses (naming the path) a missing or unreadable file, a file
// other users may read or write, an empty or short token, and bytes that
// cannot travel in call metadata (only printable ASCII, no spaces).
absl::StatusOr<std::string> ReadTokenFile(absl::string_view path);

// True when `presented` equals `expected`. The running time depends only on
// the length of `presented` (what the caller sent), never on where the first
// difference is, nor on the secret's content.
bool TokensEqual(absl::string_view presented, absl::string_view expected);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_AUTH_TOKEN_H_
