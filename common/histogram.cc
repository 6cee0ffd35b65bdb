#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fourtuple {

int HistogramBucket(uint64_t value_us) {
  if (value_us < kHistogramSubBuckets) return static_cast<int>(value_us);
  int exponent = 63 - std::countl_zero(value_us);  // >= kHistogramSubBits
  if (exponent >= kHistogramMaxExponent) return kHistogramBuckets - 1;
  int sub = static_cast<int>((value_us >> (exponent - kHistogramSubBits)) & (kHistogramSubBuckets - 1));
  return kHistogramSubBuckets + (exponent - kHistogramSubBits) * kHistogramSubBuckets + sub;
}

uint64_t HistogramBucketLow(int index) {
  if (index < kHistogramSubBuckets) return static_cast<uint64_t>(index);
  int exponent = (index - kHistogramSubBuckets) / kHistogramSubBuckets + kHistogramSubBits;
  uint64_t sub = static_cast<uint64_t>((index - kHistogramSubBuckets) % kHistogramSubBuckets);
  return (uint64_t{1} << exponent) + (sub << (exponent - kHistogramSubBits));
}

uint64_t HistogramBucketHigh(int index) {
  if (index + 1 >= kHistogramBuckets) return UINT64_MAX;
  return HistogramBucketLow(index + 1);
}

void SharedHistogram::Record(uint64_t value_us) {
  // Single writer: load+store is enough and cheaper than fetch_add.
  auto bump = [](std::atomic<uint64_t>& a, uint64_t by) {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  };
  bump(buckets[HistogramBucket(value_us)], 1);
  bump(count, 1);
  bump(sum_us, value_us);
  if (value_us > max_us.load(std::memory_order_relaxed)) max_us.store(value_us, std::memory_order_relaxed);
}

void Histogram::Record(uint64_t value_us) {
  ++buckets_[HistogramBucket(value_us)];
  ++count_;
  sum_us_ += value_us;
  max_us_ = std::max(max_us_, value_us);
}

void Histogram::Add(const SharedHistogram& shared) {
  for (int i = 0; i < kHistogramBuckets; ++i)
    buckets_[i] += shared.buckets[i].load(std::memory_order_relaxed);
  count_ += shared.count.load(std::memory_order_relaxed);
  sum_us_ += shared.sum_us.load(std::memory_order_relaxed);
  max_us_ = std::max(max_us_, shared.max_us.load(std::memory_order_relaxed));
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kHistogramBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_us_ += other.sum_us_;
  max_us_ = std::max(max_us_, other.max_us_);
}

void Histogram::Merge(const v1::Histogram& proto) {
  for (const auto& [index, n] : proto.buckets()) {
    // An index from a newer or hostile peer folds into the last bucket.
    buckets_[std::min<uint32_t>(index, kHistogramBuckets - 1)] += n;
  }
  count_ += proto.count();
  sum_us_ += proto.sum_us();
  max_us_ = std::max(max_us_, proto.max_us());
}

void Histogram::ToProto(v1::Histogram* out) const {
  out->Clear();
  for (int i = 0; i < kHistogramBuckets; ++i) {
    if (buckets_[i] != 0) (*out->mutable_buckets())[static_cast<uint32_t>(i)] = buckets_[i];
  }
  out->set_count(count_);
  out->set_sum_us(sum_us_);
  out->set_max_us(max_us_);
}

uint64_t Histogram::PercentileUs(double q) const {
  uint64_t total = 0;
  for (uint64_t n : buckets_) total += n;
  if (total == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int i = 0; i < kHistogramBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t high = HistogramBucketHigh(i);
      uint64_t upper = high == UINT64_MAX ? max_us_ : high - 1;
      return max_us_ > 0 ? std::min(upper, max_us_) : upper;
    }
  }
  return max_us_;
}

uint64_t Histogram::CountAtOrBelowUs(uint64_t value_us) const {
  uint64_t total = 0;
  for (int i = 0; i < kHistogramBuckets && HistogramBucketHigh(i) - 1 <= value_us; ++i) total += buckets_[i];
  return total;
}

}  // namespace fourtuple
