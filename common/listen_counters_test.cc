#include "common/listen_counters.h"

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(ListenCountersTest, ReadsTcpExtByName) {
  absl::StatusOr<ListenCounters> counters = ParseListenCounters(
      "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n"
      "TcpExt: 7 0 12 13\n"
      "IpExt: InNoRoutes\n"
      "IpExt: 0\n");
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(counters->syncookies_sent, 7u);
  EXPECT_EQ(counters->listen_overflows, 12u);
  EXPECT_EQ(counters->listen_drops, 13u);
}

TEST(ListenCountersTest, TextWithoutTcpExtIsAnError) {
  EXPECT_FALSE(ParseListenCounters("IpExt: InNoRoutes\nIpExt: 0\n").ok());
}

TEST(ListenCountersTest, ThisHostsCountersRead) { EXPECT_TRUE(ReadListenCounters().ok()); }

TEST(ListenCountersTest, SinceSubtractsAndNeverWraps) {
  ListenCounters since = ListenCountersSince({10, 5, 3}, {15, 4, 3});
  EXPECT_EQ(since.listen_overflows, 5u);
  EXPECT_EQ(since.listen_drops, 0u);
  EXPECT_EQ(since.syncookies_sent, 0u);
}

}  // namespace
}  // namespace fourtuple
