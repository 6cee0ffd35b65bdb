#include "common/posix_error.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/failure_reason.h"

namespace fourtuple {

absl::Status PosixError(absl::string_view context, int error_number) {
  std::string message =
      absl::StrCat(context, ": ", ErrnoName(error_number), " (", std::strerror(error_number), ")");
  switch (error_number) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
      return absl::ResourceExhaustedError(message);
    case EADDRINUSE:
      return absl::AlreadyExistsError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    case EINVAL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace fourtuple
