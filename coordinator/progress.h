// Live progress: one plain line per report interval on stderr, e.g.
//   [  12.0s] connect  open 24000  established 24000  failed 0  rate 8000/s  echo verified 0
// Plain lines (no cursor tricks) so logs and CI output stay readable.
//
// Thread-compatible: one ProgressMeter is used by the driver thread only.
#ifndef FOURTUPLE_COORDINATOR_PROGRESS_H_
#define FOURTUPLE_COORDINATOR_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace fourtuple::coordinator {

// The run's totals at one moment (sums over agents' latest reports).
struct ProgressCounts {
  uint64_t open = 0;
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t echo_verified = 0;
};

// Turns successive samples into lines; the connect rate is the established
// delta over the time since the previous sample (the first sample's since
// time 0, when nothing was established).
class ProgressMeter {
 public:
  std::string Line(double elapsed_seconds, absl::string_view phase, const ProgressCounts& counts);

 private:
  double previous_seconds_ = 0;
  uint64_t previous_established_ = 0;
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PROGRESS_H_
