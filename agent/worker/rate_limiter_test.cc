#include "agent/worker/rate_limiter.h"

#include <algorithm>

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

TEST(RateLimiterTest, DefaultBurstIsTenTokensBetweenOneAndHundredMilliseconds) {
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(50000), 50);  // a millisecond's worth
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(10000), 10);
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(100), 10);
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(30), 3);  // a hundred milliseconds' worth
  EXPECT_DOUBLE_EQ(RateLimiter::DefaultBurst(5), 1);
}

// A loop that sleeps until the next batch wakes at most 10 times a second
// below 100/s, a tenth of the rate up to 10,000/s and 1,000 times above,
// and its long-run rate is the rate asked for.
TEST(RateLimiterTest, BatchesBoundTheWakeUpsAndKeepTheRate) {
  for (double rate : {5.0, 30.0, 500.0, 1000.0, 5000.0, 10000.0, 100000.0}) {
    RateLimiter limiter(rate, RateLimiter::DefaultBurst(rate), 0);
    int taken = 0, wake_ups = 0;
    for (uint64_t t = 0; t <= 1'000'000; t += std::max<uint64_t>(1, limiter.MicrosUntilBatch(t))) {
      taken += TakeAll(limiter, t);
      ++wake_ups;
    }
    // The first token leaves at once, then whole batches at the rate: the
    // count at any moment is within a batch of the rate's.
    EXPECT_GE(taken, rate + 1 - RateLimiter::DefaultBurst(rate) - rate * 0.001) << rate;
    EXPECT_LE(taken, rate + 1 + rate * 0.001) << rate;
    EXPECT_LE(wake_ups, std::max({std::min(rate, 10.0), std::min(rate / 10, 1000.0)}) + 2) << rate;
  }
}

TEST(RateLimiterTest, ABatchIsDueWhenItsFirstTokenIs) {
  RateLimiter limiter(1000, 10, 0);  // one per ms, ten per batch
  EXPECT_EQ(TakeAll(limiter, 0), 1);
  EXPECT_EQ(limiter.MicrosUntilToken(0), 1000u);
  EXPECT_EQ(limiter.MicrosUntilBatch(0), 10'000u);
  EXPECT_EQ(TakeAll(limiter, 10'000), 10);  // the tokens of 10..19 ms
  EXPECT_EQ(limiter.MicrosUntilBatch(10'000), 10'000u);
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
