#include "agent/first_message_watch.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace fourtuple::agent {

FirstMessageWatch::FirstMessageWatch() : thread_([this] { Loop(); }) {}

FirstMessageWatch::~FirstMessageWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

uint64_t FirstMessageWatch::Watch(grpc::ServerContext* context, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  watched_[id] = Entry{context, deadline};
  changed_ = true;
  return id;
}

bool FirstMessageWatch::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watched_.erase(id);
  return cancelled_.erase(id) > 0;
}

void FirstMessageWatch::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    absl::Time now = absl::Now();
    absl::Time next = absl::InfiniteFuture();
    for (auto it = watched_.begin(); it != watched_.end();) {
      if (it->second.deadline <= now) {
        // Under mu_: Unwatch has not returned, so the context is alive.
        it->second.context->TryCancel();
        cancelled_[it->first] = true;
        it = watched_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    changed_ = false;
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changed_ || stop_; };
    mu_.AwaitWithDeadline(absl::Condition(&woken), next);
  }
}

}  // namespace fourtuple::agent
