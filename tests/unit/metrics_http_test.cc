// common/metrics_http over real loopback sockets.
#include "common/metrics_http.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

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

}  // namespace
}  // namespace fourtuple
