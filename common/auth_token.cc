#include "common/auth_token.h"

#include <sys/stat.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/read_file.h"

namespace fourtuple {

absl::StatusOr<std::string> ReadTokenFile(absl::string_view path) {
  const std::string name(path);
  // Room for the longest token and its line break; anything longer is refused
  // unread (a FIFO or /dev/zero named here is refused before reading).
  absl::StatusOr<FileContents> file =
      ReadRegularFile(name, kMaxTokenLength + 2, "one line with the token (e.g. openssl rand -hex 32)");
  if (!file.ok())
    return absl::Status(file.status().code(), absl::StrCat("token file ", file.status().message()));
  if ((file->mode & (S_IROTH | S_IWOTH)) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("token file %s is open to every user (mode %04o): run chmod o-rwx %s (or chmod 600)",
                        name, file->mode & 07777, name));
  }
  const std::string& text = file->text;

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
