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

// Whether WriteFileAtomically(path, ...) can work, checked without touching
// `path`: its directory exists, is a directory, and takes a new file (a
// probe file is created there and removed, which also catches read-only file
// systems and access lists); `path` itself is not a directory. The message
// says which of these failed. Safe to call from any thread.
absl::Status CheckFileWritable(absl::string_view path);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_READY_FILE_H_
