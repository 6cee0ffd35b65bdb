// Latency histograms with a fixed log-linear bucket layout in microseconds:
// values below 16 us are exact, above that each power of two is split into
// 16 buckets (about 6% resolution). Every agent and worker uses the same
// layout, so histograms merge exactly by adding counts per index.
#ifndef FOURTUPLE_COMMON_HISTOGRAM_H_
#define FOURTUPLE_COMMON_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "proto/fourtuple.pb.h"

namespace fourtuple {

inline constexpr int kHistogramSubBits = 4;
inline constexpr int kHistogramSubBuckets = 1 << kHistogramSubBits;  // 16
inline constexpr int kHistogramMaxExponent = 40;                     // 2^40 us ~ 12 days
inline constexpr int kHistogramBuckets =
    kHistogramSubBuckets + (kHistogramMaxExponent - kHistogramSubBits) * kHistogramSubBuckets;

// Bucket of a value; values past the last bucket land in it.
int HistogramBucket(uint64_t value_us);
// Smallest value of a bucket, and one past its largest.
uint64_t HistogramBucketLow(int index);
uint64_t HistogramBucketHigh(int index);

// Counts recorded by one writer (a worker's loop) and read by another process
// through shared memory. Relaxed atomics: a reader may see a bucket and the
// total from slightly different moments, never a torn value. Trivially
// constructible so it can live in zero-filled shared memory.
struct SharedHistogram {
  std::atomic<uint64_t> buckets[kHistogramBuckets];
  std::atomic<uint64_t> count;
  std::atomic<uint64_t> sum_us;
  std::atomic<uint64_t> max_us;

  // Single writer only.
  void Record(uint64_t value_us);
};

// An ordinary histogram for aggregation in one thread (agent front, coordinator).
class Histogram {
 public:
  void Record(uint64_t value_us);
  void Add(const SharedHistogram& shared);
  void Merge(const Histogram& other);
  void Merge(const v1::Histogram& proto);
  void ToProto(v1::Histogram* out) const;

  uint64_t count() const { return count_; }
  uint64_t max_us() const { return max_us_; }
  uint64_t sum_us() const { return sum_us_; }
  double mean_us() const { return count_ ? static_cast<double>(sum_us_) / count_ : 0; }
  // The value below which a fraction q (0..1) of samples fall, as the upper
  // edge of the bucket that holds it, clamped to the largest value seen.
  uint64_t PercentileUs(double q) const;
  // Samples in buckets that lie wholly at or below value_us (a bucket
  // straddling it is left out); UINT64_MAX gives the sum over all buckets.
  uint64_t CountAtOrBelowUs(uint64_t value_us) const;

 private:
  std::array<uint64_t, kHistogramBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_HISTOGRAM_H_
