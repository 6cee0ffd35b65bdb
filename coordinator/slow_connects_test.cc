#include "coordinator/slow_connects.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

Histogram Fast(int n) {
  Histogram h;
  for (int i = 0; i < n; ++i) h.Record(200 + i % 300);
  return h;
}

TEST(SlowConnectsTest, ConnectsAtOneAndThreeSecondsAreTheRetransmitSignature) {
  Histogram h = Fast(1000);
  for (int i = 0; i < 40; ++i) h.Record(1'000'000 + 3000 * i);
  for (int i = 0; i < 10; ++i) h.Record(3'010'000 + 5000 * i);
  std::optional<RetransmitSignature> found = FindRetransmitSignature(h);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->slow, 50u);
  EXPECT_EQ(found->at_steps, 50u);
  EXPECT_EQ(found->steps_seen, "1 s, 3 s");
  const std::string warning = SlowConnectWarning(h, {{"lab1", 48, 50, 0}, {"lab2", 0, 0, 0}}, 2048);
  EXPECT_THAT(warning, HasSubstr("50 of 1,050 connects (4.8%) took 1 s, 3 s: the times of SYN retransmits"));
  EXPECT_THAT(warning, HasSubstr("host lab1: ListenOverflows +48, ListenDrops +50, SyncookiesSent +0"));
  EXPECT_THAT(warning, ::testing::Not(HasSubstr("lab2")));
  EXPECT_THAT(warning, HasSubstr("or lower max_in_flight (now 2,048) or connect_rate"));
}

TEST(SlowConnectsTest, AUniformlySlowTargetIsNotRetransmits) {
  Histogram h = Fast(100);
  for (int i = 0; i < 50; ++i) h.Record(1'500'000 + 20'000 * i);  // 1.5 s .. 2.5 s
  EXPECT_FALSE(FindRetransmitSignature(h).has_value());
  EXPECT_THAT(SlowConnectWarning(h, {}, 64), IsEmpty());
}

TEST(SlowConnectsTest, FastOrFewSlowConnectsSayNothing) {
  EXPECT_THAT(SlowConnectWarning(Fast(5000), {{"lab1", 3, 3, 0}}, 64), IsEmpty());
  Histogram two = Fast(10);
  two.Record(1'010'000);
  two.Record(1'020'000);
  EXPECT_FALSE(FindRetransmitSignature(two).has_value());
  EXPECT_THAT(SlowConnectWarning(Histogram(), {}, 64), IsEmpty());
}

}  // namespace
}  // namespace fourtuple::coordinator
