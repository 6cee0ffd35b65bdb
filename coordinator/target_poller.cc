#include "coordinator/target_poller.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace fourtuple::coordinator {
namespace {

// A target that restarts is back within seconds: gRPC's default reconnect
// backoff (up to two minutes) would keep its counts away long after.
constexpr int kMaxReconnectBackoffMs = 1000;
// A target whose start time (now - its uptime) moved later than this is a
// new life; below it, the difference is the answer's own latency.
constexpr absl::Duration kRestartSlack = absl::Milliseconds(500);

std::shared_ptr<grpc::Channel> TargetChannel(const std::string& endpoint,
                                             std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(endpoint, std::move(credentials), args);
}

}  // namespace

TargetPoller::TargetPoller(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials,
                           absl::Duration timeout)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      stub_(v1::TargetControl::NewStub(TargetChannel(endpoint_, std::move(credentials)))),
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
      // A target that started again (its start time moved) counts from
      // zero: its earlier lives' last counts are kept and added.
      const absl::Time started = absl::Now() - absl::Seconds(stats.uptime_seconds());
      if (record_.queried && started - last_started_ > kRestartSlack) {
        ++record_.restarts;
        accepted_before_ += last_accepted_;
        LOG_WARNING(
            "target %s restarted (uptime %.1f s): its counts start again, added to the %llu "
            "accepted before",
            endpoint_, stats.uptime_seconds(), static_cast<unsigned long long>(accepted_before_));
      }
      if (away_) {
        LOG_INFO("target control %s answers again", endpoint_);
        away_ = false;
      }
      last_started_ = started;
      last_accepted_ = stats.total().accepted();
      record_.queried = true;
      record_.open_at_peak = std::max(record_.open_at_peak, stats.total().open());
      record_.accepted = accepted_before_ + stats.total().accepted();
      record_.at_capacity = stats.total().at_capacity();
      continue;
    }
    ++record_.unanswered;
    if (finishing_) {
      // Cut short by the end of the run: a failure only if nothing answered.
      if (record_.queried) return;
      record_.error = absl::StrCat("GetStats on ", endpoint_, ": no answer before the run ended");
    } else {
      record_.error = absl::StrCat("GetStats on ", endpoint_, ": ", FromGrpcStatus(status).ToString());
    }
    // The endpoint away (a target restarting) is reported once per absence,
    // not once per poll; the run carries on.
    if (!away_) LOG_WARNING("%s (the run carries on; polling again)", record_.error);
    away_ = true;
  }
}

}  // namespace fourtuple::coordinator
