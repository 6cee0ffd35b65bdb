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

absl::Status CheckFileWritable(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  const std::string file(path);
  const size_t slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
  struct stat info;
  if (stat(dir.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT) return absl::NotFoundError(absl::StrCat("directory ", dir, " does not exist"));
    return PosixError(absl::StrCat("directory ", dir), error);
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  if (stat(file.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(file, " is a directory"));
  }
  std::string probe = absl::StrCat(dir, "/.write-check.XXXXXX");
  const int fd = mkostemp(probe.data(), O_CLOEXEC);
  if (fd < 0) {
    return PosixError(absl::StrCat("cannot create a file in directory ", dir), errno);
  }
  close(fd);
  unlink(probe.c_str());
  return absl::OkStatus();
}

}  // namespace fourtuple
