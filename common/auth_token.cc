#include "common/auth_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/posix_error.h"

namespace fourtuple {

absl::StatusOr<std::string> ReadTokenFile(absl::string_view path) {
  const std::string name(path);
  int fd = open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError(absl::StrCat("token file ", name), errno);
  struct stat info = {};
  if (fstat(fd, &info) != 0) {
    int saved = errno;
    close(fd);
    return PosixError(absl::StrCat("token file ", name), saved);
  }
  // Checked on the open file, so a swap between stat and read cannot pass.
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("token file ", name, " is not a regular file"));
  }
  if ((info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    close(fd);
    return absl::PermissionDeniedError(
        absl::StrFormat("token file %s is open to every user (mode %04o): run chmod o-rwx %s (or chmod 600)",
                        name, info.st_mode & 07777, name));
  }
  std::string text;
  char buffer[1024];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      return PosixError(absl::StrCat("reading token file ", name), saved);
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxTokenLength + 2) break;
  }
  close(fd);

  absl::string_view token = text;
  if (absl::ConsumeSuffix(&token, "\n")) absl::ConsumeSuffix(&token, "\r");
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", name, " is empty; put a secret in it, e.g. openssl rand -hex 32 > ", name));
  }
  if (token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", name, " holds more than ", kMaxTokenLength, " bytes"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file ", name,
                       ": the token must be printable ASCII without spaces or line breaks (one line, e.g. "
                       "openssl rand -hex 32)"));
    }
  }
  if (token.size() < kMinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", name, ": the token has ", token.size(),
                                                   " characters; use at least ", kMinTokenLength,
                                                   " (e.g. openssl rand -hex 32)"));
  }
  return std::string(token);
}

bool TokensEqual(absl::string_view presented, absl::string_view expected) {
  // Every byte of `presented` is compared (against the secret repeated), and
  // the length difference folded in, so neither a wrong prefix nor a wrong
  // length ends the loop early. volatile keeps the compiler from turning the
  // accumulation into an early exit.
  volatile unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  if (expected.empty()) return false;
  for (size_t i = 0; i < presented.size(); ++i) {
    difference = difference | static_cast<unsigned char>(presented[i] ^ expected[i % expected.size()]);
  }
  return difference == 0 && !presented.empty();
}

}  // namespace fourtuple
