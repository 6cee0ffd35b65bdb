#include "common/histogram.h"

#include <cstring>
#include <map>
#include <memory>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(HistogramBucketTest, SmallValuesAreExact) {
  for (uint64_t v = 0; v < kHistogramSubBuckets; ++v) {
    EXPECT_EQ(HistogramBucket(v), static_cast<int>(v));
    EXPECT_EQ(HistogramBucketLow(static_cast<int>(v)), v);
  }
}

TEST(HistogramBucketTest, EveryValueFallsInsideItsBucket) {
  for (uint64_t v : {16ULL, 17ULL, 31ULL, 32ULL, 33ULL, 1000ULL, 123456ULL, 5000000ULL, (1ULL << 39) + 5}) {
    int b = HistogramBucket(v);
    EXPECT_LE(HistogramBucketLow(b), v) << v;
    EXPECT_GT(HistogramBucketHigh(b), v) << v;
    // Resolution: a bucket is at most 1/16 of its low edge wide.
    EXPECT_LE(HistogramBucketHigh(b) - HistogramBucketLow(b), HistogramBucketLow(b) / 16 + 1) << v;
  }
  EXPECT_EQ(HistogramBucket(UINT64_MAX), kHistogramBuckets - 1);
}

TEST(HistogramBucketTest, BucketsAreContiguous) {
  for (int i = 0; i + 2 < kHistogramBuckets; ++i) {
    EXPECT_EQ(HistogramBucketHigh(i), HistogramBucketLow(i + 1));
    EXPECT_EQ(HistogramBucket(HistogramBucketLow(i)), i);
  }
}

TEST(HistogramTest, PercentilesOfUniformValues) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.max_us(), 1000u);
  uint64_t p50 = h.PercentileUs(0.5);
  EXPECT_GE(p50, 500u);
  EXPECT_LE(p50, 532u);  // within one bucket (~6%)
  EXPECT_EQ(h.PercentileUs(1.0), 1000u);
  EXPECT_NEAR(h.mean_us(), 500.5, 0.001);
}

TEST(HistogramTest, EmptyHistogramHasZeroPercentiles) {
  Histogram h;
  EXPECT_EQ(h.PercentileUs(0.99), 0u);
}

TEST(HistogramTest, MergingProtosEqualsRecordingEverything) {
  Histogram a, b, all;
  for (uint64_t v = 0; v < 5000; v += 7) {
    (v % 2 ? a : b).Record(v * 13);
    all.Record(v * 13);
  }
  v1::Histogram pa, pb;
  a.ToProto(&pa);
  b.ToProto(&pb);
  Histogram merged;
  merged.Merge(pa);
  merged.Merge(pb);
  v1::Histogram p_all, p_merged;
  all.ToProto(&p_all);
  merged.ToProto(&p_merged);
  using Buckets = std::map<uint32_t, uint64_t>;
  EXPECT_EQ(Buckets(p_all.buckets().begin(), p_all.buckets().end()),
            Buckets(p_merged.buckets().begin(), p_merged.buckets().end()));
  EXPECT_EQ(p_all.count(), p_merged.count());
  EXPECT_EQ(p_all.sum_us(), p_merged.sum_us());
  EXPECT_EQ(p_all.max_us(), p_merged.max_us());
  for (double q : {0.5, 0.99, 0.999}) EXPECT_EQ(all.PercentileUs(q), merged.PercentileUs(q));
}

TEST(HistogramTest, SharedHistogramAddsIntoHistogram) {
  // Shared histograms live in zero-filled shared memory.
  auto storage = std::make_unique<unsigned char[]>(sizeof(SharedHistogram));
  std::memset(storage.get(), 0, sizeof(SharedHistogram));
  auto* shared = reinterpret_cast<SharedHistogram*>(storage.get());
  shared->Record(10);
  shared->Record(2000);
  Histogram h;
  h.Add(*shared);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max_us(), 2000u);
  EXPECT_EQ(h.PercentileUs(0.5), 10u);
}

TEST(HistogramTest, HostileBucketIndexIsClamped) {
  v1::Histogram p;
  (*p.mutable_buckets())[1000000] = 3;
  p.set_count(3);
  Histogram h;
  h.Merge(p);
  EXPECT_EQ(h.count(), 3u);
}

TEST(HistogramTest, CountAtOrBelowLeavesOutStraddlingBuckets) {
  Histogram h;
  h.Record(5);    // exact bucket [5, 6)
  h.Record(100);  // bucket [100, 104)
  h.Record(250);  // bucket [248, 256)
  EXPECT_EQ(h.CountAtOrBelowUs(4), 0u);
  EXPECT_EQ(h.CountAtOrBelowUs(5), 1u);
  EXPECT_EQ(h.CountAtOrBelowUs(102), 1u);  // [100, 104) is not wholly <= 102
  EXPECT_EQ(h.CountAtOrBelowUs(103), 2u);
  EXPECT_EQ(h.CountAtOrBelowUs(250), 2u);  // [248, 256) straddles 250
  EXPECT_EQ(h.CountAtOrBelowUs(255), 3u);
  EXPECT_EQ(h.CountAtOrBelowUs(UINT64_MAX), 3u);
  EXPECT_EQ(h.sum_us(), 355u);
}

}  // namespace
}  // namespace fourtuple
