#include "tests/support/http_get.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/address.h"
#include "common/posix_error.h"

namespace fourtuple::testing {

absl::StatusOr<HttpResponse> HttpRequest(const std::string& endpoint, const std::string& method,
                                         const std::string& path, absl::Duration timeout) {
  absl::StatusOr<Endpoint> parsed = ParseEndpoint(endpoint);
  if (!parsed.ok()) return parsed.status();
  sockaddr_storage address;
  socklen_t length = parsed->ToSockaddr(&address);
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PosixError("socket", errno);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return PosixError(absl::StrCat("connect ", endpoint), errno);
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", endpoint, "\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return PosixError("send", errno);
  }
  std::string raw;
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[65536];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("recv", errno);
    }
    raw.append(buffer, static_cast<size_t>(n));
    if (absl::Now() > deadline) return absl::DeadlineExceededError("response not finished in time");
  }

  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos) return absl::DataLossError(absl::StrCat("no header end in: ", raw));
  HttpResponse response;
  response.headers = raw.substr(0, header_end);
  response.body = raw.substr(header_end + 4);
  std::vector<std::string> lines = absl::StrSplit(response.headers, "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/1.") ||
      !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
  }
  size_t content_length = std::string::npos;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "content-type") response.content_type = value;
    if (name == "content-length") absl::SimpleAtoi(value, &content_length);
    if (name == "transfer-encoding" && absl::AsciiStrToLower(value) == "chunked") {
      return absl::UnimplementedError("chunked responses are not expected from the metrics server");
    }
  }
  if (content_length != std::string::npos && method != "HEAD" && response.body.size() != content_length) {
    return absl::DataLossError(
        absl::StrCat("Content-Length ", content_length, " but ", response.body.size(), " body bytes"));
  }
  return response;
}

}  // namespace fourtuple::testing
