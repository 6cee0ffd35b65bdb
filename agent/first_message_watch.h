// Cancels calls whose first message has not arrived in time, so that a
// stream opened and left silent cannot hold a handler thread forever. One
// thread serves every watched call.
//
// Thread-safety: thread-safe.
#ifndef FOURTUPLE_AGENT_FIRST_MESSAGE_WATCH_H_
#define FOURTUPLE_AGENT_FIRST_MESSAGE_WATCH_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fourtuple::agent {

class FirstMessageWatch {
 public:
  FirstMessageWatch();
  ~FirstMessageWatch();  // stops the thread; no call may still be watched
  FirstMessageWatch(const FirstMessageWatch&) = delete;
  FirstMessageWatch& operator=(const FirstMessageWatch&) = delete;

  // Cancels `context` (ServerContext::TryCancel: a pending Read returns
  // false) at `deadline` unless Unwatch()ed first. The context must stay
  // alive until Unwatch returns.
  uint64_t Watch(grpc::ServerContext* context, absl::Time deadline);

  // Stops watching; once it returns the call is not cancelled by this
  // watch. True when the deadline had passed and the call was cancelled.
  bool Unwatch(uint64_t id);

 private:
  struct Entry {
    grpc::ServerContext* context;
    absl::Time deadline;
  };

  void Loop();

  absl::Mutex mu_;
  std::map<uint64_t, Entry> watched_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, bool> cancelled_ ABSL_GUARDED_BY(mu_);  // expired, not yet Unwatch()ed
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once the rest is built
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_FIRST_MESSAGE_WATCH_H_
