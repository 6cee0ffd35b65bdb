// A token bucket for new connections: `rate` tokens per second, at most
// `burst` banked. The caller passes the clock (microseconds, any epoch, never
// going back), so tests drive it deterministically.
//
// Thread-safety: owned by one loop thread; nothing is synchronized.
#ifndef FOURTUPLE_AGENT_WORKER_RATE_LIMITER_H_
#define FOURTUPLE_AGENT_WORKER_RATE_LIMITER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fourtuple::agent {

class RateLimiter {
 public:
  // rate <= 0 (or not finite) means unlimited. The bucket starts with one
  // token, so the first connection leaves at once and the rest follow at the
  // rate instead of as one initial burst.
  // `phase_us` delays the first token: workers sharing one rate offset
  // their schedules so their connects interleave instead of leaving in pairs.
  RateLimiter(double rate_per_second, double burst, uint64_t now_us, double phase_us = 0)
      : unlimited_(!(rate_per_second > 0) || !std::isfinite(rate_per_second)),
        interval_us_(unlimited_ ? 0 : 1e6 / rate_per_second),
        tolerance_us_((std::max(1.0, burst) - 1) * interval_us_),
        next_us_(static_cast<double>(now_us) + tolerance_us_ + (unlimited_ ? 0 : phase_us)) {}

  // The tokens one wake-up of the loop takes together, and so how often a
  // paced loop wakes: a batch of `burst` tokens every `burst` intervals.
  // Ten tokens per batch, but never more than a millisecond's worth above
  // 10,000/s (a larger clump of connects would queue at the target and
  // inflate the latency it is measured by) and never less than one
  // wake-up per 100 ms below 100/s. A paced worker so wakes at most 10
  // times a second below 100/s, a tenth of its rate up to 10,000/s and
  // 1,000 times above, whatever the rate: a thousand workers on one host,
  // each waking once per token, left no CPU for the work.
  static double DefaultBurst(double rate_per_second) {
    return std::max({1.0, rate_per_second * 0.001, std::min(10.0, rate_per_second * 0.1)});
  }

  bool unlimited() const { return unlimited_; }
  // Microseconds between tokens (0 when unlimited).
  double interval_us() const { return interval_us_; }

  // Takes one token if one is available at now_us.
  bool TryTake(uint64_t now_us) {
    if (unlimited_) return true;
    double now = static_cast<double>(now_us);
    // Half a microsecond of slack: the clock counts whole microseconds and
    // sums of fractional intervals must not leave a batch's last token a
    // rounding error short.
    if (now + tolerance_us_ + 0.5 < next_us_) return false;
    next_us_ = std::max(next_us_, now) + interval_us_;
    return true;
  }

  // Microseconds from now_us until a token is available (0 when one is).
  uint64_t MicrosUntilToken(uint64_t now_us) const {
    if (unlimited_) return 0;
    double wait = next_us_ - tolerance_us_ - static_cast<double>(now_us);
    return wait > 0 ? static_cast<uint64_t>(std::ceil(wait)) : 0;
  }

  // Microseconds from now_us until a whole batch (`burst` tokens) is
  // available (0 when one is): when a paced loop should wake next. The
  // first token of a batch leaves when it is due, the others up to
  // burst - 1 intervals early, so the long-run rate stays exact.
  uint64_t MicrosUntilBatch(uint64_t now_us) const {
    if (unlimited_) return 0;
    double wait = next_us_ - static_cast<double>(now_us);
    return wait > 0 ? static_cast<uint64_t>(std::ceil(wait)) : 0;
  }

 private:
  // The generic cell rate algorithm (a token bucket kept as one time, so no
  // token count drifts by rounding): a token is available from
  // next_us_ - tolerance_us_ on; each take moves next_us_ one interval on.
  bool unlimited_;
  double interval_us_;
  double tolerance_us_;  // (burst - 1) intervals
  double next_us_;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_RATE_LIMITER_H_
