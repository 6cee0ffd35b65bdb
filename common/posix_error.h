// The one place errno becomes an absl::Status (cf. leveldb's PosixError).
#ifndef FOURTUPLE_COMMON_POSIX_ERROR_H_
#define FOURTUPLE_COMMON_POSIX_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

// "context: EADDRINUSE (Address already in use)" with a status code that
// suits us (not Abseil's errno mapping: EADDRNOTAVAIL is not AlreadyExists
// here, it means source ports ran out).
absl::Status PosixError(absl::string_view context, int error_number);

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_POSIX_ERROR_H_
