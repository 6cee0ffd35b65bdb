#include "coordinator/target_poller.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace fourtuple::coordinator {

TargetPoller::TargetPoller(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials,
                           absl::Duration timeout)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      stub_(v1::TargetControl::NewStub(grpc::CreateChannel(endpoint_, std::move(credentials)))),
      thread_([this] { Loop(); }) {}

TargetPoller::~TargetPoller() {
  if (thread_.joinable()) Finish();
}

void TargetPoller::Request() {
  absl::MutexLock lock(&mu_);
  requested_ = true;
}

TargetRecord TargetPoller::Finish() {
  {
    absl::MutexLock lock(&mu_);
    finishing_ = true;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return record_;
}

void TargetPoller::Loop() {
  while (true) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](TargetPoller* self)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->requested_ || self->finishing_; },
          this));
      if (finishing_) return;
      requested_ = false;
      context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
      in_flight_ = &context;
    }
    v1::TargetStats stats;
    const grpc::Status status = stub_->GetStats(&context, v1::GetStatsRequest(), &stats);
    absl::MutexLock lock(&mu_);
    in_flight_ = nullptr;
    if (status.ok()) {
      record_.queried = true;
      record_.open_at_peak = std::max(record_.open_at_peak, stats.total().open());
      record_.accepted = stats.total().accepted();
      record_.at_capacity = stats.total().at_capacity();
      continue;
    }
    if (finishing_) {
      // Cut short by the end of the run: a failure only if nothing answered.
      if (record_.queried) return;
      record_.error = absl::StrCat("GetStats on ", endpoint_, ": no answer before the run ended");
    } else {
      record_.error = absl::StrCat("GetStats on ", endpoint_, ": ", FromGrpcStatus(status).ToString());
    }
    LOG_WARNING("%s", record_.error);
  }
}

}  // namespace fourtuple::coordinator
