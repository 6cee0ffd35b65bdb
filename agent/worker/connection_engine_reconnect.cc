// The connection engine's load models: how our closes look on the wire
// (close "rst" or "fin"), churn during the hold and reconnects of the
// connections the far side drops (docs/load-models.md).
//
// Nothing here costs a held connection a byte: a reopening connection keeps
// its drop time and attempt count in the record's echo fields (unused while
// it is closed), waits out its backoff in the timer wheel, and then queues
// (4 bytes, only while it waits) for a token of the plan's connect_rate and
// a place under max_in_flight, like a connection of the ramp.
//
// Churn closes the oldest connection first: a cursor walks the slots in the
// order they were opened and a churned slot reopens as the newest.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "agent/worker/connection_engine.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {
namespace {

void Add(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
void Set(std::atomic<uint64_t>& counter, uint64_t value) { counter.store(value, std::memory_order_relaxed); }

// The drop time, in loop milliseconds mod 2^32, in the two echo fields.
void StoreDropTime(Connection& c, uint64_t now_us) {
  const uint32_t ms = static_cast<uint32_t>(now_us / 1000);
  c.echo_sent = static_cast<uint16_t>(ms);
  c.echo_received = static_cast<uint16_t>(ms >> 16);
}
uint32_t DropTimeMs(const Connection& c) { return uint32_t{c.echo_sent} | (uint32_t{c.echo_received} << 16); }

}  // namespace

absl::Status ConnectionEngine::SetUpLoadModels(const v1::WorkerStart& start) {
  const v1::Assignment& a = start.assignment();
  if (a.close_mode() != v1::CLOSE_MODE_RST && a.close_mode() != v1::CLOSE_MODE_FIN) {
    return absl::InvalidArgumentError(absl::StrCat("assignment.close_mode: unknown mode ", a.close_mode()));
  }
  double churn_rate = 0;
  if (a.has_churn()) {
    const v1::ChurnSettings& churn = a.churn();
    if (!std::isfinite(churn.rate()) || churn.rate() <= 0 || churn.rate() > kMaxConnectRate) {
      return absl::InvalidArgumentError(
          absl::StrCat("assignment.churn.rate must be in (0, ", kMaxConnectRate, "], got ", churn.rate()));
    }
    if (churn.duration_ms() == 0 || churn.duration_ms() > kMaxChurnDurationMs) {
      return absl::InvalidArgumentError(absl::StrCat("assignment.churn.duration_ms must be 1..",
                                                     kMaxChurnDurationMs, ", got ", churn.duration_ms()));
    }
    // This worker's share, by its share of the agent's connections.
    churn_rate = a.connections() == 0 ? 0
                                      : churn.rate() * static_cast<double>(start.connections()) /
                                            static_cast<double>(a.connections());
  }
  if (a.has_reconnect()) {
    const v1::ReconnectSettings& r = a.reconnect();
    if (r.initial_backoff_ms() == 0 || r.initial_backoff_ms() > kMaxBackoffMs) {
      return absl::InvalidArgumentError(absl::StrCat("assignment.reconnect.initial_backoff_ms must be 1..",
                                                     kMaxBackoffMs, ", got ", r.initial_backoff_ms()));
    }
    if (r.max_backoff_ms() < r.initial_backoff_ms() || r.max_backoff_ms() > kMaxBackoffMs) {
      return absl::InvalidArgumentError(absl::StrCat("assignment.reconnect.max_backoff_ms must be ",
                                                     r.initial_backoff_ms(), "..", kMaxBackoffMs, ", got ",
                                                     r.max_backoff_ms()));
    }
    reconnect_ = r;
  } else {
    reconnect_.reset();
  }
  close_fin_ = a.close_mode() == v1::CLOSE_MODE_FIN;
  churn_rate_ = churn_rate;
  churn_duration_us_ = a.has_churn() ? a.churn().duration_ms() * 1000 : 0;
  ramp_done_ = false;
  churn_limiter_.reset();
  churn_end_us_ = 0;
  churn_cursor_ = 0;
  reopen_queue_.clear();
  reopening_ = 0;
  recovering_ = 0;
  outage_start_us_ = 0;
  jitter_rng_.seed(static_cast<uint32_t>(start.first_connection() * 2654435761u + 1));
  return absl::OkStatus();
}

void ConnectionEngine::ResetLoadModelShared() {
  SharedReopen& r = shared_->reopen;
  for (std::atomic<uint64_t>* counter :
       {&r.churned, &r.reconnected, &r.drops, &r.reopening, &r.round_verified, &r.longest_outage_us}) {
    Set(*counter, 0);
  }
  for (auto& counter : r.failures) Set(counter, 0);
  for (auto& bucket : r.recovery.buckets) bucket.store(0, std::memory_order_relaxed);
  r.recovery.count.store(0, std::memory_order_relaxed);
  r.recovery.sum_us.store(0, std::memory_order_relaxed);
  r.recovery.max_us.store(0, std::memory_order_relaxed);
}

void ConnectionEngine::EndLoadModels() {
  reopen_queue_.clear();
  reopen_queue_.shrink_to_fit();
  churn_limiter_.reset();
  reopening_ = 0;
  recovering_ = 0;
  outage_start_us_ = 0;
  Set(shared_->reopen.reopening, 0);
}

void ConnectionEngine::OnRampSettled() {
  ramp_done_ = true;
  if (churn_rate_ <= 0) return;
  const uint64_t now = NowMicros();
  // Churn may catch up on 50 ms of a late loop (the ramp: 1 ms): closing a
  // few more at once costs nothing, and the rate asked for is the rate run.
  churn_limiter_.emplace(churn_rate_, std::max(1.0, churn_rate_ * 0.05), now,
                         pace_phase_ * 1e6 / churn_rate_);
  churn_end_us_ = now + churn_duration_us_;
  churn_cursor_ = 0;
}

int64_t ConnectionEngine::LoadModelWaitMicros(uint64_t now) const {
  if (closed_ || failed_ || !connect_started_) return -1;
  int64_t wait = -1;
  if (churn_limiter_.has_value()) {
    const uint64_t until_end = churn_end_us_ > now ? churn_end_us_ - now : 0;
    wait = static_cast<int64_t>(std::min(churn_limiter_->MicrosUntilToken(now), until_end));
  }
  if (!reopen_queue_.empty() && in_flight_ < max_in_flight_) {
    const int64_t token =
        static_cast<int64_t>(std::min<uint64_t>(limiter_->MicrosUntilToken(now), INT64_MAX));
    if (wait < 0 || token < wait) wait = token;
  }
  return wait;
}

void ConnectionEngine::PumpLoadModels() {
  if (!connect_started_ || closed_ || failed_) return;
  uint64_t now = NowMicros();
  if (churn_limiter_.has_value()) {
    if (now >= churn_end_us_) {
      churn_limiter_.reset();
    } else {
      while (churn_limiter_->TryTake(now)) ChurnOne(now);
    }
  }
  // Reopens take the connect tokens the ramp left: the plan's connect_rate
  // and max_in_flight bound the ramp and every reconnect storm alike.
  while (!reopen_queue_.empty() && in_flight_ < max_in_flight_ && limiter_->TryTake(now)) {
    const uint32_t slot = reopen_queue_.front();
    reopen_queue_.pop_front();
    ReopenSlot(slot);
    now = NowMicros();
  }
}

void ConnectionEngine::ChurnOne(uint64_t now) {
  // Oldest first: the slot after the last one churned, skipping any that is
  // not idly held (echoing, reopening, failed).
  for (uint32_t scanned = 0; scanned < connect_cursor_; ++scanned) {
    const uint32_t slot = churn_cursor_;
    churn_cursor_ = churn_cursor_ + 1 >= connect_cursor_ ? 0 : churn_cursor_ + 1;
    Connection& c = table_[slot];
    if (c.state != ConnState::kIdle || c.fd < 0 || c.echo_skip != 0) continue;
    CloseFd(c, CloseResets());
    --open_;
    Set(shared_->open, open_);
    c.flags |= kConnFlagReopen | kConnFlagChurn;
    StoreDropTime(c, now);
    c.echo_skip = 0;
    c.state = ConnState::kBackoff;
    TimerWheel<Connection>::MarkUnscheduled(c);
    ++reopening_;
    Set(shared_->reopen.reopening, reopening_);
    reopen_queue_.push_back(slot);
    return;
  }
}

void ConnectionEngine::ReconnectAfterDrop(uint32_t slot, Connection& c) {
  const uint64_t now = NowMicros();
  Add(shared_->reopen.drops);
  c.flags = static_cast<uint8_t>((c.flags | kConnFlagReopen) & ~kConnFlagChurn);
  StoreDropTime(c, now);
  c.echo_skip = 0;
  ++reopening_;
  ++recovering_;
  Set(shared_->reopen.reopening, reopening_);
  if (outage_start_us_ == 0) outage_start_us_ = std::max<uint64_t>(now, 1);
  EnterBackoff(slot, c, now);
}

void ConnectionEngine::EnterBackoff(uint32_t slot, Connection& c, uint64_t now) {
  // Exponential from initial_backoff, capped at max_backoff; with jitter the
  // wait is uniform in [0, backoff] ("full jitter"), so a herd dropped at
  // once comes back spread over the window instead of at its edges.
  const uint32_t attempts = std::min<uint32_t>(c.echo_skip, 40);
  const uint64_t initial_us = reconnect_->initial_backoff_ms() * 1000;
  const uint64_t max_us = reconnect_->max_backoff_ms() * 1000;
  const uint64_t backoff_us =
      attempts >= 40 || initial_us > (max_us >> attempts) ? max_us : initial_us << attempts;
  uint64_t wait_us = backoff_us;
  if (reconnect_->jitter()) {
    wait_us = std::uniform_int_distribution<uint64_t>(0, backoff_us)(jitter_rng_);
  }
  c.state = ConnState::kBackoff;
  wheel_.Schedule(slot, DeadlineTick(now, wait_us));
}

void ConnectionEngine::OnBackoffDone(uint32_t slot, Connection&) { reopen_queue_.push_back(slot); }

void ConnectionEngine::ReopenSlot(uint32_t slot) {
  Connection& c = table_[slot];
  if (c.state != ConnState::kBackoff) return;
  c.generation = next_generation_++;
  c.state = ConnState::kConnecting;
  TimerWheel<Connection>::MarkUnscheduled(c);
  if (tls_) tls_by_slot_[slot] = nullptr;
  OpenSlot(slot, c);
}

void ConnectionEngine::OnReopenFailed(uint32_t slot, Connection& c, int reason) {
  const uint32_t attempts = c.echo_skip + 1u;
  c.echo_skip = static_cast<uint16_t>(std::min<uint32_t>(attempts, UINT16_MAX));
  if (reconnect_.has_value() && (reconnect_->max_attempts() == 0 || attempts < reconnect_->max_attempts())) {
    EnterBackoff(slot, c, NowMicros());
    return;
  }
  // Given up: the connection stays closed, counted by the last reason.
  Add(shared_->reopen.failures[ReasonCode(reason)]);
  const bool churned = (c.flags & kConnFlagChurn) != 0;
  c.flags = static_cast<uint8_t>(c.flags & ~(kConnFlagReopen | kConnFlagChurn));
  c.echo_sent = 0;
  c.echo_received = 0;
  c.echo_skip = 0;
  c.state = ConnState::kClosed;
  --reopening_;
  Set(shared_->reopen.reopening, reopening_);
  if (!churned && --recovering_ == 0) outage_start_us_ = 0;
}

void ConnectionEngine::OnReopened(uint32_t, Connection& c) {
  const uint64_t now = NowMicros();
  const uint32_t down_ms = static_cast<uint32_t>(now / 1000) - DropTimeMs(c);
  const bool churned = (c.flags & kConnFlagChurn) != 0;
  c.flags = static_cast<uint8_t>(c.flags & ~(kConnFlagReopen | kConnFlagChurn));
  c.echo_sent = 0;
  c.echo_received = 0;
  c.echo_skip = 0;
  --reopening_;
  Set(shared_->reopen.reopening, reopening_);
  if (churned) {
    Add(shared_->reopen.churned);
    return;
  }
  Add(shared_->reopen.reconnected);
  shared_->reopen.recovery.Record(uint64_t{down_ms} * 1000);
  if (--recovering_ == 0 && outage_start_us_ != 0) {
    const uint64_t outage = now - outage_start_us_;
    if (outage > shared_->reopen.longest_outage_us.load(std::memory_order_relaxed)) {
      Set(shared_->reopen.longest_outage_us, outage);
    }
    outage_start_us_ = 0;
  }
}

}  // namespace fourtuple::agent
