#include "coordinator/slow_connects.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/human_format.h"

namespace fourtuple::coordinator {
namespace {

// Linux retransmits an unanswered SYN 1 s after connect(), then doubles the
// wait (net.ipv4.tcp_syn_retries, 6 by default: up to 127 s).
constexpr uint64_t kStepSeconds[] = {1, 3, 7, 15, 31, 63};
// A recovered connect lands a little after its step: the round trip and the
// target's accept add to it, and the histogram buckets are ~6% wide.
constexpr double kStepSlack = 0.25;
constexpr uint64_t kSlowUs = 900'000;
// Below this, a few slow connects are noise (a stalled machine), not a queue.
constexpr uint64_t kMinSlow = 3;

uint64_t CountBetween(const Histogram& h, uint64_t low_us, uint64_t high_us) {
  // Buckets straddling low_us count in; straddling high_us count out.
  return h.CountAtOrBelowUs(high_us) - h.CountAtOrBelowUs(low_us > 0 ? low_us - 1 : 0);
}

}  // namespace

std::optional<RetransmitSignature> FindRetransmitSignature(const Histogram& connect_latency) {
  RetransmitSignature found;
  found.total = connect_latency.CountAtOrBelowUs(UINT64_MAX);
  found.slow = found.total - connect_latency.CountAtOrBelowUs(kSlowUs - 1);
  if (found.slow < kMinSlow) return std::nullopt;
  for (uint64_t step : kStepSeconds) {
    const uint64_t low = step * 1'000'000 - 100'000;
    const uint64_t high = static_cast<uint64_t>(static_cast<double>(step) * 1e6 * (1 + kStepSlack));
    const uint64_t here = CountBetween(connect_latency, low, high);
    if (here == 0) continue;
    found.at_steps += here;
    absl::StrAppend(&found.steps_seen, found.steps_seen.empty() ? "" : ", ", step, " s");
  }
  // Most slow connects at the steps: retransmits, not a uniformly slow target.
  if (found.at_steps * 10 < found.slow * 8) return std::nullopt;
  return found;
}

std::string SlowConnectWarning(const Histogram& connect_latency, const std::vector<HostTurnAways>& hosts,
                               uint32_t max_in_flight) {
  std::optional<RetransmitSignature> signature = FindRetransmitSignature(connect_latency);
  std::string evidence;
  for (const HostTurnAways& h : hosts) {
    if (h.listen_overflows == 0 && h.listen_drops == 0 && h.syncookies_sent == 0) continue;
    absl::StrAppend(&evidence, evidence.empty() ? "" : "; ", "host ", h.host, ": ListenOverflows +",
                    FormatCount(h.listen_overflows), ", ListenDrops +", FormatCount(h.listen_drops),
                    ", SyncookiesSent +", FormatCount(h.syncookies_sent));
  }
  if (!signature.has_value()) return "";
  std::string out = absl::StrCat(
      FormatCount(signature->at_steps), " of ", FormatCount(signature->total), " connects (",
      absl::StrFormat("%.1f", 100.0 * static_cast<double>(signature->at_steps) /
                                  static_cast<double>(std::max<uint64_t>(signature->total, 1))),
      "%) took ", signature->steps_seen,
      ": the times of SYN retransmits, so the target's accept queue overflowed and its kernel dropped "
      "handshakes that the agents retried");
  if (!evidence.empty()) absl::StrAppend(&out, " (kernel counters during the run: ", evidence, ")");
  absl::StrAppend(&out,
                  ". Fix: raise the target's listen backlog (the listen() argument; target-server "
                  "--backlog) and net.core.somaxconn on the target's host, or lower max_in_flight (now ",
                  FormatCount(max_in_flight), ") or connect_rate");
  return out;
}

}  // namespace fourtuple::coordinator
