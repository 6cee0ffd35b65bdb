// The agent's sum of its workers' load-model counters (churn, reconnects:
// agent/worker/reopen_counters.h), written into its RunReport.
//
// Thread-safety: a plain value, used by one thread.
#ifndef FOURTUPLE_AGENT_LOAD_MODEL_TALLY_H_
#define FOURTUPLE_AGENT_LOAD_MODEL_TALLY_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

#include "agent/worker/reopen_counters.h"
#include "common/failure_reason.h"
#include "common/histogram.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

class LoadModelTally {
 public:
  void Add(const SharedReopen& r) {
    churned_ += Load(r.churned);
    reconnected_ += Load(r.reconnected);
    drops_ += Load(r.drops);
    reopening_ += Load(r.reopening);
    round_verified_ += Load(r.round_verified);
    longest_outage_us_ = std::max(longest_outage_us_, Load(r.longest_outage_us));
    for (int slot = 0; slot < kReasonSlots; ++slot) failures_[slot] += Load(r.failures[slot]);
    recovery_.Add(r.recovery);
  }

  void ToReport(v1::RunReport* report) const {
    report->set_churned(churned_);
    report->set_reconnected(reconnected_);
    report->set_drops(drops_);
    report->set_reopening(reopening_);
    report->set_round_verified(round_verified_);
    report->set_longest_outage_us(longest_outage_us_);
    auto& failures = *report->mutable_reconnect_failures();
    failures.clear();
    for (int slot = 0; slot < kReasonSlots; ++slot) {
      if (failures_[slot] != 0) failures[std::string(ReasonName(slot))] += failures_[slot];
    }
    report->clear_recovery();
    if (recovery_.count() > 0) recovery_.ToProto(report->mutable_recovery());
  }

 private:
  static uint64_t Load(const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); }

  uint64_t churned_ = 0, reconnected_ = 0, drops_ = 0, reopening_ = 0, round_verified_ = 0;
  uint64_t longest_outage_us_ = 0;
  uint64_t failures_[kReasonSlots] = {};
  Histogram recovery_;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_LOAD_MODEL_TALLY_H_
