// common/metrics_http over real loopback sockets.
#include "common/metrics_http.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::HttpGet;
using ::fourtuple::testing::HttpRequest;
using ::fourtuple::testing::HttpResponse;

Endpoint Loopback(uint16_t port) { return *ParseEndpoint(absl::StrCat("127.0.0.1:", port), true); }

TEST(MetricsHttpTest, ServesTheRenderedBodyOnAPickedPort) {
  std::atomic<int> calls{0};
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start(Loopback(0), [&] { return absl::StrCat("scrape ", ++calls, "\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string bound = (*server)->bound().ToString();
  EXPECT_NE((*server)->bound().port, 0);
  EXPECT_EQ(bound.rfind("127.0.0.1:", 0), 0u) << bound;

  for (int i = 1; i <= 3; ++i) {
    absl::StatusOr<HttpResponse> response = HttpGet(bound, "/metrics");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(response->body, absl::StrCat("scrape ", i, "\n"));
  }

  absl::StatusOr<HttpResponse> head = HttpRequest(bound, "HEAD", "/metrics");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
}

TEST(MetricsHttpTest, OtherPathsAndMethodsAreRefused) {
  auto server = MetricsHttpServer::Start(Loopback(0), [] { return std::string("x 1\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string bound = (*server)->bound().ToString();
  for (const char* path : {"/", "/metricsx", "/metrics/extra", "/etc/passwd"}) {
    absl::StatusOr<HttpResponse> response = HttpGet(bound, path);
    ASSERT_TRUE(response.ok()) << path << ": " << response.status();
    EXPECT_EQ(response->status, 404) << path;
    EXPECT_EQ(response->body.find("x 1"), std::string::npos) << path;
  }
  absl::StatusOr<HttpResponse> post = HttpRequest(bound, "POST", "/metrics");
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 405);
}

TEST(MetricsHttpTest, ATakenPortIsAnError) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage address;
  socklen_t length = Loopback(0).ToSockaddr(&address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const Endpoint taken = Endpoint::FromSockaddr(reinterpret_cast<sockaddr*>(&address));

  auto server = MetricsHttpServer::Start(taken, [] { return std::string(); });
  EXPECT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find(taken.ToString()), absl::string_view::npos) << server.status();
  close(fd);
}

TEST(MetricsHttpTest, StopsCleanlyAndFreesThePort) {
  Endpoint bound;
  {
    auto server = MetricsHttpServer::Start(Loopback(0), [] { return std::string("y 2\n"); });
    ASSERT_TRUE(server.ok()) << server.status();
    bound = (*server)->bound();
  }
  EXPECT_FALSE(HttpGet(bound.ToString(), "/metrics").ok());
  auto again = MetricsHttpServer::Start(bound, [] { return std::string("y 3\n"); });
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<HttpResponse> response = HttpGet(bound.ToString(), "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "y 3\n");
}

// A process with --metrics stops within moments of SIGTERM: civetweb's
// listener thread notices mg_stop only when its poll() returns, which on its
// own takes up to a 2 s quantum compiled into the library.
TEST(MetricsHttpTest, StopsWithinMoments) {
  for (absl::Duration idle : {absl::Milliseconds(20), absl::Milliseconds(400), absl::Milliseconds(900)}) {
    auto server = MetricsHttpServer::Start(Loopback(0), [] { return std::string("z 1\n"); });
    ASSERT_TRUE(server.ok()) << server.status();
    absl::SleepFor(idle);
    const absl::Time start = absl::Now();
    server->reset();
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(300)) << "after " << idle << " idle";
  }
}

// ... also while a scraper keeps its connection open between scrapes.
TEST(MetricsHttpTest, StopsWithinMomentsWithAKeptAliveConnection) {
  auto server = MetricsHttpServer::Start(Loopback(0), [] { return std::string("z 2\n"); });
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage address;
  const socklen_t length = (*server)->bound().ToSockaddr(&address);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), length), 0) << strerror(errno);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string answer;
  char buffer[512];
  while (answer.find("z 2\n") == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << "the server closed the connection: " << answer;
    answer.append(buffer, static_cast<size_t>(n));
  }
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  server->reset();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300));
  close(fd);
}

}  // namespace
}  // namespace fourtuple
