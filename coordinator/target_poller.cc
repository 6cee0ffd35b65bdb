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
// Clock noise allowed between two answers' start times (now - uptime)
// beyond the calls' own latency, which is accounted for.
constexpr absl::Duration kRestartSlack = absl::Milliseconds(50);

std::shared_ptr<grpc::Channel> TargetChannel(const std::string& endpoint,
                                             std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: it is also the least time a
  // connection attempt gets, 20 s by default, which a busy target needs.)
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
    const absl::Time sent = absl::Now();
    const grpc::Status status = stub_->GetStats(&context, v1::GetStatsRequest(), &stats);
    const absl::Time received = absl::Now();
    absl::MutexLock lock(&mu_);
    in_flight_ = nullptr;
    if (status.ok()) {
      // A target that started again (its start time moved) counts from
      // zero: its earlier lives' last counts are kept and added. The server
      // read its uptime somewhere between our send and our receive, so its
      // start lies in [sent - uptime, received - uptime]: a new life is one
      // whose earliest possible start is after the last life's latest.
      const absl::Duration uptime = absl::Seconds(stats.uptime_seconds());
      // An uptime of 0 is a server that does not say (target-server always does).
      const bool knows_uptime = stats.uptime_seconds() > 0;
      if (record_.queried && knows_uptime && last_started_ != absl::InfinitePast() &&
          (sent - uptime) - last_started_ > kRestartSlack) {
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
      if (knows_uptime) last_started_ = received - uptime;
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
