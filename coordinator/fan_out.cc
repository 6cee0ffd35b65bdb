#include "coordinator/fan_out.h"

#include <utility>

namespace fourtuple::coordinator {

void FanOut::Submit(std::function<void()> start) {
  {
    absl::MutexLock lock(&mu_);
    if (in_flight_ >= limit_) {
      waiting_.push_back(std::move(start));
      return;
    }
    ++in_flight_;
  }
  start();
}

void FanOut::Done() {
  std::function<void()> next;
  {
    absl::MutexLock lock(&mu_);
    if (waiting_.empty()) {
      if (in_flight_ > 0) --in_flight_;
      return;
    }
    // The slot passes straight to the next call.
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  next();
}

}  // namespace fourtuple::coordinator
