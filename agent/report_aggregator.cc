#include "agent/report_aggregator.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/failure_reason.h"
#include "common/histogram.h"

namespace fourtuple::agent {
namespace {

uint64_t Load(const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); }

// Worker phases 1..7 have the numbers of RunPhase READY..FAILED; kStarting has
// no RunPhase (reports are not sent before every worker is ready).
v1::RunPhase ToRunPhase(uint32_t phase) {
  if (phase == static_cast<uint32_t>(WorkerPhase::kStarting)) return v1::RUN_PHASE_UNSPECIFIED;
  if (phase > static_cast<uint32_t>(WorkerPhase::kFailed)) return v1::RUN_PHASE_FAILED;
  return static_cast<v1::RunPhase>(phase);
}

}  // namespace

PhaseSummary SummarizePhases(absl::Span<const AgentWorkerShared* const> workers) {
  PhaseSummary summary;
  if (workers.empty()) return summary;
  int least = std::numeric_limits<int>::max();
  bool any_failed = false;
  bool any_echoing = false;
  uint32_t rounds_done = std::numeric_limits<uint32_t>::max();
  for (const AgentWorkerShared* worker : workers) {
    v1::RunPhase phase = ToRunPhase(worker->phase.load(std::memory_order_acquire));
    any_failed = any_failed || phase == v1::RUN_PHASE_FAILED;
    any_echoing = any_echoing || phase == v1::RUN_PHASE_ECHOING;
    least = std::min<int>(least, phase);
    rounds_done = std::min(rounds_done, worker->echo_rounds_done.load(std::memory_order_relaxed));
  }
  summary.echo_rounds_done = rounds_done;
  if (any_failed) {
    summary.phase = v1::RUN_PHASE_FAILED;
  } else if (least == v1::RUN_PHASE_CONNECTED && any_echoing) {
    summary.phase = v1::RUN_PHASE_ECHOING;
  } else {
    summary.phase = static_cast<v1::RunPhase>(least);
  }
  return summary;
}

std::string WorkerError(const AgentWorkerShared& worker) {
  if (worker.error_set.load(std::memory_order_acquire) == 0) return "";
  return std::string(worker.error, strnlen(worker.error, sizeof(worker.error)));
}

void AggregateWorkers(absl::Span<const AgentWorkerShared* const> workers,
                      const std::vector<std::string>& source_names, v1::RunReport* report) {
  PhaseSummary summary = SummarizePhases(workers);
  report->set_phase(summary.phase);
  report->set_echo_rounds_done(summary.echo_rounds_done);

  uint64_t attempted = 0, established = 0, open = 0, in_flight = 0, failed = 0, closed_by_peer = 0;
  uint64_t echo_sent = 0, echo_verified = 0, echo_mismatched = 0, echo_timed_out = 0, echo_closed = 0;
  uint32_t echo_round = 0;
  uint64_t failures[kReasonSlots] = {};
  std::vector<uint64_t> by_source(std::min<size_t>(source_names.size(), kMaxSourceAddresses), 0);
  Histogram connect_latency;
  Histogram echo_rtt;
  Histogram tls_handshake;
  uint64_t tls_handshakes = 0, tls_resumed = 0;
  std::map<std::string, uint64_t> tls_negotiated;
  std::map<std::string, std::string> tls_details;
  std::string error;

  for (size_t i = 0; i < workers.size(); ++i) {
    const AgentWorkerShared& w = *workers[i];
    attempted += Load(w.attempted);
    established += Load(w.established);
    open += Load(w.open);
    in_flight += Load(w.in_flight);
    failed += Load(w.failed);
    closed_by_peer += Load(w.closed_by_peer);
    echo_sent += Load(w.echo_sent);
    echo_verified += Load(w.echo_verified);
    echo_mismatched += Load(w.echo_mismatched);
    echo_timed_out += Load(w.echo_timed_out);
    echo_closed += Load(w.echo_closed);
    echo_round = std::max(echo_round, w.echo_round.load(std::memory_order_relaxed));
    for (int slot = 0; slot < kReasonSlots; ++slot) failures[slot] += Load(w.failures[slot]);
    for (size_t s = 0; s < by_source.size(); ++s) by_source[s] += Load(w.established_by_source[s]);
    connect_latency.Add(w.connect_latency);
    echo_rtt.Add(w.echo_rtt);
    tls_handshake.Add(w.tls_handshake);
    tls_handshakes += Load(w.tls_handshakes);
    tls_resumed += Load(w.tls_resumed);
    for (const SharedTlsNegotiated& slot : w.tls_negotiated) {
      if (slot.set.load(std::memory_order_acquire) == 0) continue;
      tls_negotiated[std::string(slot.name, strnlen(slot.name, sizeof slot.name))] += Load(slot.count);
    }
    for (int d = 0; d < kTlsDetailSlots; ++d) {
      const SharedTlsDetail& detail = w.tls_details[d];
      if (detail.set.load(std::memory_order_acquire) == 0) continue;
      tls_details.emplace(std::string(ReasonName(kReasonTlsVerifyFailed + d)),
                          std::string(detail.text, strnlen(detail.text, sizeof detail.text)));
    }
    std::string message = WorkerError(w);
    if (!message.empty()) {
      absl::StrAppend(&error, error.empty() ? "" : "; ", "worker ", i, ": ", message);
    }
  }

  report->set_attempted(attempted);
  report->set_established(established);
  report->set_open(open);
  report->set_in_flight(in_flight);
  report->set_failed(failed);
  report->set_closed_by_peer(closed_by_peer);
  report->set_echo_round(echo_round);
  report->set_echo_sent(echo_sent);
  report->set_echo_verified(echo_verified);
  report->set_echo_mismatched(echo_mismatched);
  report->set_echo_timed_out(echo_timed_out);
  report->set_echo_closed(echo_closed);

  auto& failure_map = *report->mutable_failures();
  failure_map.clear();
  for (int slot = 0; slot < kReasonSlots; ++slot) {
    if (failures[slot] != 0) failure_map[std::string(ReasonName(slot))] += failures[slot];
  }
  auto& source_map = *report->mutable_established_by_source();
  source_map.clear();
  for (size_t s = 0; s < by_source.size(); ++s) source_map[source_names[s]] += by_source[s];

  report->clear_connect_latency();
  report->clear_echo_rtt();
  connect_latency.ToProto(report->mutable_connect_latency());
  echo_rtt.ToProto(report->mutable_echo_rtt());
  report->set_tls_handshakes(tls_handshakes);
  report->set_tls_resumed(tls_resumed);
  report->clear_tls_handshake();
  if (tls_handshake.count() > 0) tls_handshake.ToProto(report->mutable_tls_handshake());
  report->mutable_tls_negotiated()->clear();
  for (const auto& [name, count] : tls_negotiated) (*report->mutable_tls_negotiated())[name] = count;
  report->mutable_tls_failure_details()->clear();
  for (const auto& [reason, text] : tls_details) (*report->mutable_tls_failure_details())[reason] = text;
  if (!error.empty()) report->set_error(error);
}

}  // namespace fourtuple::agent
