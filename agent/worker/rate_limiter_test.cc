#include "agent/worker/rate_limiter.h"

#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

int TakeAll(RateLimiter& limiter, uint64_t now_us) {
  int n = 0;
  while (limiter.TryTake(now_us)) ++n;
  return n;
}

TEST(RateLimiterTest, ZeroMeansUnlimited) {
  RateLimiter limiter(0, 1, 0);
  EXPECT_TRUE(limiter.unlimited());
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(limiter.TryTake(0));
  EXPECT_EQ(limiter.MicrosUntilToken(0), 0u);
}

TEST(RateLimiterTest, StartsWithOneTokenThenFollowsTheRate) {
  RateLimiter limiter(1000, 20, 0);  // one per millisecond
  EXPECT_EQ(TakeAll(limiter, 0), 1);
  EXPECT_EQ(limiter.MicrosUntilToken(0), 1000u);
  EXPECT_EQ(TakeAll(limiter, 500), 0);
  EXPECT_EQ(limiter.MicrosUntilToken(500), 500u);
  EXPECT_EQ(TakeAll(limiter, 1000), 1);
  EXPECT_EQ(TakeAll(limiter, 6000), 5);
}

TEST(RateLimiterTest, BurstCapsWhatIdleTimeBanks) {
  RateLimiter limiter(1000, 20, 0);
  EXPECT_EQ(TakeAll(limiter, 1'000'000), 20);
}

TEST(RateLimiterTest, LongRunRateIsExact) {
  RateLimiter limiter(2500, RateLimiter::DefaultBurst(2500), 0);
  int taken = 0;
  // A loop that wakes when the next token is due, each time 50 us late.
  for (uint64_t t = 0; t <= 2'000'000; t += limiter.MicrosUntilToken(t) + 50) taken += TakeAll(limiter, t);
  EXPECT_NEAR(taken, 5000, 2);
}

TEST(RateLimiterTest, FractionalRates) {
  RateLimiter limiter(0.5, 1, 0);  // one every two seconds
  EXPECT_EQ(TakeAll(limiter, 0), 1);
  EXPECT_EQ(TakeAll(limiter, 1'999'999), 0);
  EXPECT_EQ(TakeAll(limiter, 2'000'000), 1);
}

TEST(RateLimiterTest, ClockGoingBackIsIgnored) {
  RateLimiter limiter(1000, 5, 10'000);
  EXPECT_EQ(TakeAll(limiter, 10'000), 1);
  EXPECT_EQ(TakeAll(limiter, 5'000), 0);
  EXPECT_EQ(TakeAll(limiter, 12'000), 2);
}

TEST(RateLimiterTest, DefaultBurstIsOneMillisecondAndAtLeastOne) {
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(10000), 10);
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(10), 1);
}

TEST(RateLimiterTest, PhaseDelaysTheFirstToken) {
  RateLimiter limiter(1000, 1, 0, 500);  // one token per ms, the first at 0.5 ms
  EXPECT_FALSE(limiter.TryTake(0));
  EXPECT_EQ(limiter.MicrosUntilToken(0), 500u);
  EXPECT_TRUE(limiter.TryTake(500));
  EXPECT_FALSE(limiter.TryTake(1000));
  EXPECT_TRUE(limiter.TryTake(1500));
}

}  // namespace
}  // namespace fourtuple::agent
