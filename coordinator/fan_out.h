// Bounds how many of a batch of asynchronous calls are in flight at once:
// probing or assigning a thousand agents opens a thousand connections, and
// a burst of that size lands on the agents' hosts, the coordinator's
// connection setup and every middlebox between them at the same moment.
//
// Submit hands over a start function that begins one call without waiting
// (a gRPC callback-API call); it runs at once while fewer than `limit` are in
// flight, else when an earlier call reports Done. Start functions run on the
// thread that calls Submit or Done (a gRPC callback thread, typically), never
// under the FanOut's lock.
//
// Thread-safety: thread-safe. Every started call must report Done once.
#ifndef FOURTUPLE_COORDINATOR_FAN_OUT_H_
#define FOURTUPLE_COORDINATOR_FAN_OUT_H_

#include <cstddef>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fourtuple::coordinator {

class FanOut {
 public:
  // Calls in flight at most; 0 means 1.
  explicit FanOut(size_t limit) : limit_(limit == 0 ? 1 : limit) {}

  void Submit(std::function<void()> start);
  // One call started by this FanOut has ended (or got far enough).
  void Done();

 private:
  const size_t limit_;
  absl::Mutex mu_;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_FAN_OUT_H_
