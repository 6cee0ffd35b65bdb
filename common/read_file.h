// Reading a whole file that a flag names (--plan, --token-file, --tls-*):
// only a regular file, only up to a size the caller gives. A FIFO, a device
// such as /dev/zero or a directory is refused at once instead of blocking
// the program or reading until memory runs out.
// Thread-safety: a pure function (the file system aside).
#ifndef FOURTUPLE_COMMON_READ_FILE_H_
#define FOURTUPLE_COMMON_READ_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// Sizes for the callers: a plan is JSON a person writes or a script emits;
// a PEM bundle of many CAs is well under this.
inline constexpr size_t kMaxPlanFileBytes = size_t{64} << 20;
inline constexpr size_t kMaxPemFileBytes = size_t{1} << 20;

struct FileContents {
  std::string text;
  mode_t mode = 0;  // st_mode of the file read, e.g. for permission checks
};

// Reads `path` whole. `what` says what the file should hold ("a JSON plan")
// and ends the errors, which name the path but not the flag (callers prefix
// it): "/dev/zero is a character device; expected a regular file holding a
// JSON plan". The type is checked on the open file (opened non-blocking, so
// a FIFO with no writer does not hang the open), so a swap between check and
// read cannot pass. Refuses files larger than `max_bytes`.
absl::StatusOr<FileContents> ReadRegularFile(const std::string& path, size_t max_bytes,
                                             absl::string_view what);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_READ_FILE_H_
