#include "coordinator/progress.h"

#include "absl/strings/str_format.h"

namespace fourtuple::coordinator {

std::string ProgressMeter::Line(double elapsed_seconds, absl::string_view phase,
                                const ProgressCounts& counts) {
  double rate = 0;
  if (elapsed_seconds > previous_seconds_ && counts.established >= previous_established_) {
    rate = static_cast<double>(counts.established - previous_established_) /
           (elapsed_seconds - previous_seconds_);
  }
  previous_seconds_ = elapsed_seconds;
  previous_established_ = counts.established;
  return absl::StrFormat("[%7.1fs] %-8s open %d  established %d  failed %d  rate %.0f/s  echo verified %d",
                         elapsed_seconds, phase, counts.open, counts.established, counts.failed, rate,
                         counts.echo_verified);
}

}  // namespace fourtuple::coordinator
