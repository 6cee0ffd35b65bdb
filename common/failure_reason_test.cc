#include "common/failure_reason.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ReasonNameTest, ErrnoNamesAsTheKernelGivesThem) {
  EXPECT_EQ(ReasonName(EADDRNOTAVAIL), "EADDRNOTAVAIL");
  EXPECT_EQ(ReasonName(EMFILE), "EMFILE");
  EXPECT_EQ(ReasonName(ENFILE), "ENFILE");
  EXPECT_EQ(ReasonName(ECONNREFUSED), "ECONNREFUSED");
  EXPECT_EQ(ReasonName(ETIMEDOUT), "ETIMEDOUT");
  EXPECT_EQ(ReasonName(ECONNRESET), "ECONNRESET");
  EXPECT_EQ(ReasonName(ENETUNREACH), "ENETUNREACH");
  EXPECT_EQ(ReasonName(EHOSTUNREACH), "EHOSTUNREACH");
  EXPECT_EQ(ReasonName(ENOBUFS), "ENOBUFS");
  EXPECT_EQ(ReasonName(EADDRINUSE), "EADDRINUSE");
  EXPECT_EQ(ReasonName(EAGAIN), "EAGAIN");
  EXPECT_EQ(ReasonName(EHWPOISON), "EHWPOISON");  // the last errno Linux has
}

TEST(ReasonNameTest, UnnamedErrnoGetsItsNumber) {
  EXPECT_EQ(ReasonName(41), "E41");  // a hole in Linux's errno numbering
  EXPECT_EQ(ReasonName(kMaxErrno - 1), absl::StrCat("E", kMaxErrno - 1));
}

TEST(ReasonNameTest, OurOwnReasons) {
  EXPECT_EQ(ReasonName(kReasonConnectTimeout), "connect_timeout");
  EXPECT_EQ(ReasonName(kReasonPeerClosed), "peer_closed");
  EXPECT_EQ(ReasonName(kReasonEchoMismatch), "echo_mismatch");
  EXPECT_EQ(ReasonName(kReasonEchoTimeout), "echo_timeout");
  EXPECT_EQ(ReasonName(kReasonOther), "other");
  // Out of range folds into "other", as ReasonCode does for counters.
  EXPECT_EQ(ReasonName(0), "other");
  EXPECT_EQ(ReasonName(-1), "other");
  EXPECT_EQ(ReasonName(100000), "other");
}

TEST(ReasonNameTest, EveryCodeHasADistinctNameThatReadsBack) {
  std::set<std::string> seen;
  for (int code = 1; code < kReasonSlots; ++code) {
    std::string name(ReasonName(code));
    EXPECT_FALSE(name.empty()) << code;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_THAT(ReasonFromName(name), Optional(code)) << name;
  }
}

TEST(ReasonFromNameTest, UnknownNames) {
  EXPECT_EQ(ReasonFromName(""), std::nullopt);
  EXPECT_EQ(ReasonFromName("EFOO"), std::nullopt);
  EXPECT_EQ(ReasonFromName("eaddrnotavail"), std::nullopt);
  EXPECT_EQ(ReasonFromName("E0"), std::nullopt);
}

TEST(ErrnoNameTest, NamesErrnoEvenWhereOurCodesLive) {
  EXPECT_EQ(ErrnoName(EINVAL), "EINVAL");
  EXPECT_EQ(ErrnoName(kReasonConnectTimeout), absl::StrCat("E", kReasonConnectTimeout));
  EXPECT_EQ(ErrnoName(0), "E0");
  EXPECT_FALSE(ErrnoName(5000).empty());
}

TEST(ErrnoNameTest, NamesARealFailure) {
  // A connect to a port nobody listens on gives ECONNREFUSED on loopback.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(listener);  // the port is now free and closed

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  int result = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  int error = errno;
  close(fd);
  ASSERT_EQ(result, -1);
  EXPECT_EQ(ReasonName(ReasonCode(error)), "ECONNREFUSED");
}

TEST(ReasonLimitTest, EachCommonReasonNamesWhatGave) {
  EXPECT_EQ(ReasonLimit("EADDRNOTAVAIL"), "ports");
  EXPECT_EQ(ReasonLimit("EADDRINUSE"), "ports");
  EXPECT_EQ(ReasonLimit("EMFILE"), "fds");
  EXPECT_EQ(ReasonLimit("ENFILE"), "fds");
  EXPECT_EQ(ReasonLimit("ENOBUFS"), "memory");
  EXPECT_EQ(ReasonLimit("ENOMEM"), "memory");
  EXPECT_EQ(ReasonLimit("connect_timeout"), "backlog");
  EXPECT_EQ(ReasonLimit("ETIMEDOUT"), "backlog");
  EXPECT_EQ(ReasonLimit("echo_timeout"), "time");
  EXPECT_EQ(ReasonLimit("ECONNREFUSED"), "target");
  EXPECT_EQ(ReasonLimit("EHOSTUNREACH"), "route");
  EXPECT_EQ(ReasonLimit("E2BIG"), "");
}

TEST(ReasonHintTest, CommonReasonsHaveCauseAndFix) {
  EXPECT_THAT(ReasonHint("EADDRNOTAVAIL"), HasSubstr("source ports exhausted"));
  EXPECT_THAT(ReasonHint("EADDRNOTAVAIL"), HasSubstr("add source addresses or target ports"));
  EXPECT_THAT(ReasonHint("EADDRNOTAVAIL"), HasSubstr("ip_local_port_range"));
  EXPECT_THAT(ReasonHint("EMFILE"), HasSubstr("ulimit -n"));
  EXPECT_THAT(ReasonHint("EMFILE"), HasSubstr("more processes"));
  EXPECT_THAT(ReasonHint("ENFILE"), HasSubstr("fs.file-max"));
  EXPECT_THAT(ReasonHint("ECONNREFUSED"), HasSubstr("nothing listening"));
  EXPECT_THAT(ReasonHint("ECONNREFUSED"), HasSubstr("backlog"));
  for (const char* name : {"ETIMEDOUT", "connect_timeout"}) {
    EXPECT_THAT(ReasonHint(name), HasSubstr("SYN")) << name;
    EXPECT_THAT(ReasonHint(name), HasSubstr("conntrack")) << name;
    EXPECT_THAT(ReasonHint(name), HasSubstr("net.ipv4.tcp_max_syn_backlog")) << name;
    EXPECT_THAT(ReasonHint(name), HasSubstr("nf_conntrack_max")) << name;
  }
  EXPECT_THAT(ReasonHint("ENOBUFS"), HasSubstr("memory"));
  EXPECT_THAT(ReasonHint("ENOMEM"), HasSubstr("memory"));
  EXPECT_THAT(ReasonHint("ENETUNREACH"), HasSubstr("route"));
  EXPECT_THAT(ReasonHint("EHOSTUNREACH"), HasSubstr("route"));
  for (const char* name : {"ECONNRESET", "EADDRINUSE", "peer_closed", "echo_mismatch", "echo_timeout"}) {
    EXPECT_FALSE(ReasonHint(name).empty()) << name;
    // Cause, then fix after the colon.
    EXPECT_THAT(ReasonHint(name), HasSubstr(": ")) << name;
  }
}

TEST(ReasonHintTest, NothingForTheRest) {
  EXPECT_EQ(ReasonHint("EPERM"), "");
  EXPECT_EQ(ReasonHint("other"), "");
  EXPECT_EQ(ReasonHint("no such reason"), "");
}

}  // namespace
}  // namespace fourtuple
