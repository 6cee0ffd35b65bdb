// Test support: one HTTP/1.1 request over a plain TCP socket (Connection:
// close, body read to EOF), so tests check the metrics server with no HTTP
// library of their own. For tests only; thread-safe (no shared state).
#ifndef FOURTUPLE_TESTS_SUPPORT_HTTP_GET_H_
#define FOURTUPLE_TESTS_SUPPORT_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fourtuple::testing {

struct HttpResponse {
  int status = 0;            // 200, 404, ...
  std::string headers;       // the header lines, as received
  std::string content_type;  // the Content-Type value, "" when none
  std::string body;
};

// `endpoint` is "ADDR:PORT" or "[V6]:PORT".
absl::StatusOr<HttpResponse> HttpRequest(const std::string& endpoint, const std::string& method,
                                         const std::string& path, absl::Duration timeout = absl::Seconds(10));

inline absl::StatusOr<HttpResponse> HttpGet(const std::string& endpoint, const std::string& path) {
  return HttpRequest(endpoint, "GET", path);
}

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_HTTP_GET_H_
