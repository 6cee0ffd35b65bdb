#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/human_format.h"
#include "common/posix_error.h"

namespace fourtuple {
namespace {

absl::string_view KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  const int fd_;
};

}  // namespace

absl::StatusOr<FileContents> ReadRegularFile(const std::string& path, size_t max_bytes,
                                             absl::string_view what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer;
  // on a regular file it changes nothing. O_NOCTTY: a terminal named here
  // must not become the controlling one.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return PosixError(path, errno);
  FdCloser closer(fd);
  struct stat info = {};
  if (fstat(fd, &info) != 0) return PosixError(path, errno);
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", KindOf(info.st_mode), "; expected a regular file holding ", what));
  }
  const std::string too_big =
      absl::StrCat(path, " holds more than ", FormatBytes(max_bytes), "; expected ", what);
  if (info.st_size < 0 || static_cast<uint64_t>(info.st_size) > max_bytes) {
    return absl::InvalidArgumentError(too_big);
  }
  FileContents contents;
  contents.mode = info.st_mode;
  contents.text.reserve(static_cast<size_t>(info.st_size));
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(absl::StrCat("reading ", path), errno);
    if (n == 0) break;
    contents.text.append(buffer, static_cast<size_t>(n));
    // The file may grow after fstat.
    if (contents.text.size() > max_bytes) return absl::InvalidArgumentError(too_big);
  }
  return contents;
}

}  // namespace fourtuple
