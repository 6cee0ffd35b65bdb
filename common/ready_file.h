// Ready files: a JSON object written atomically (temp file + rename) once a
// program listens, so tests and scripts can use port 0.
#ifndef FOURTUPLE_COMMON_READY_FILE_H_
#define FOURTUPLE_COMMON_READY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// Writes `contents` to `path` atomically: write a temporary beside it with an
// unpredictable name created exclusively (PATH.tmp.XXXXXX, never through a
// symlink), fsync, chmod 0644, rename over `path`. Safe to call from any
// thread; concurrent writers of one path each rename a whole file.
absl::Status WriteFileAtomically(absl::string_view path, absl::string_view contents);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_READY_FILE_H_
