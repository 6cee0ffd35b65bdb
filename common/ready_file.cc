#include "common/ready_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/posix_error.h"

namespace fourtuple {

absl::Status WriteFileAtomically(absl::string_view path, absl::string_view contents) {
  // The temporary sits beside the target so rename() stays within one file
  // system. Its name is random and mkostemp() creates it with O_EXCL, which
  // never follows a symlink: in a world-writable directory another user could
  // otherwise plant a link at a guessable name (PATH.tmp.PID) and have this
  // process, perhaps root, truncate whatever file the link points at.
  const std::string final_path(path);
  std::string temp_path = absl::StrCat(path, ".tmp.XXXXXX");
  int fd = mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("create ", temp_path), errno);

  auto fail = [&](absl::string_view what, int error) {
    if (fd >= 0) close(fd);
    unlink(temp_path.c_str());
    return PosixError(absl::StrCat(what, " ", temp_path), error);
  };

  // mkostemp() creates the file 0600; ready files and reports are meant to be
  // read by others (scripts, the user who started a root service).
  if (fchmod(fd, 0644) != 0) return fail("chmod", errno);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write", errno);
    written += static_cast<size_t>(n);
  }
  // Readers poll for the file and parse it at once: it must be whole when it
  // appears, even after a crash of this process.
  if (fsync(fd) != 0) return fail("fsync", errno);
  int closed = close(fd);
  fd = -1;
  if (closed != 0) return fail("close", errno);
  if (rename(temp_path.c_str(), final_path.c_str()) != 0) {
    int error = errno;
    unlink(temp_path.c_str());
    return PosixError(absl::StrCat("rename ", temp_path, " to ", final_path), error);
  }
  return absl::OkStatus();
}

}  // namespace fourtuple
