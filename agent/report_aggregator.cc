#include "agent/report_aggregator.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/load_model_tally.h"
#include "agent/worker/failure_samples.h"
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

// The per-address fields of the report from the tally.
void ReportSources(const SourceSpace& sources, SourceTally* tally, v1::RunReport* report) {
  const std::vector<uint32_t>& established = tally->established;
  const std::vector<uint32_t>& failed = tally->failed;
  const size_t used = established.size();
  uint64_t with_connections = 0;
  for (uint32_t count : established) with_connections += count != 0;
  report->set_source_addresses_used(with_connections);

  v1::PrefixSourceSummary& summary = *report->mutable_source_address_summary();
  summary.set_addresses(used);
  // Counts per address take few distinct values (a /64 gives each address
  // one connection): the median from a histogram of them, not from a sorted
  // copy of a million counts.
  std::map<uint32_t, uint64_t> addresses_with;
  for (uint32_t count : established) ++addresses_with[count];
  uint64_t seen = 0;
  for (const auto& [count, addresses] : addresses_with) {
    seen += addresses;
    if (seen > used / 2) {
      summary.set_median(count);
      break;
    }
  }
  summary.set_min(addresses_with.empty() ? 0 : addresses_with.begin()->first);
  summary.set_max(addresses_with.empty() ? 0 : addresses_with.rbegin()->first);

  // Which addresses to name: all of few; else the failing (most failures
  // first, at most half the list), then the busiest.
  std::vector<size_t> named;
  if (used <= kReportedSourceAddresses) {
    for (size_t i = 0; i < used; ++i) named.push_back(i);
  } else {
    auto top = [&](const std::vector<uint32_t>& by, size_t want) {
      // A min-heap of the `want` largest nonzero values seen so far.
      auto greater = [&by](size_t a, size_t b) { return by[a] > by[b]; };
      std::vector<size_t> heap;
      for (size_t i = 0; i < used; ++i) {
        if (by[i] == 0 || std::find(named.begin(), named.end(), i) != named.end()) continue;
        if (heap.size() < want) {
          heap.push_back(i);
          std::push_heap(heap.begin(), heap.end(), greater);
        } else if (by[i] > by[heap.front()]) {
          std::pop_heap(heap.begin(), heap.end(), greater);
          heap.back() = i;
          std::push_heap(heap.begin(), heap.end(), greater);
        }
      }
      std::sort_heap(heap.begin(), heap.end(), greater);
      named.insert(named.end(), heap.begin(), heap.end());
    };
    top(failed, kReportedSourceAddresses / 2);
    top(established, kReportedSourceAddresses - named.size());
  }
  auto& established_map = *report->mutable_established_by_source();
  auto& failed_map = *report->mutable_failed_by_source();
  established_map.clear();
  failed_map.clear();
  for (size_t i : named) {
    const std::string name = sources.AddressOf(i).ToString();
    established_map[name] += established[i];
    if (failed[i] != 0) failed_map[name] += failed[i];
  }
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

void AggregateWorkers(absl::Span<const AgentWorkerShared* const> workers, size_t block_bytes,
                      const SourceSpace& sources, SourceTally* tally, v1::RunReport* report) {
  PhaseSummary summary = SummarizePhases(workers);
  report->set_phase(summary.phase);
  report->set_echo_rounds_done(summary.echo_rounds_done);

  uint64_t attempted = 0, established = 0, open = 0, in_flight = 0, failed = 0, closed_by_peer = 0;
  uint64_t echo_sent = 0, echo_verified = 0, echo_mismatched = 0, echo_timed_out = 0, echo_closed = 0;
  uint32_t echo_round = 0;
  uint64_t failures[kReasonSlots] = {};
  const uint64_t used = sources.Used();
  tally->established.assign(used, 0);
  tally->failed.assign(used, 0);
  const uint64_t capacity = SourceCountsIn(block_bytes);
  Histogram connect_latency;
  Histogram echo_rtt;
  Histogram connect_queue;
  Histogram tls_handshake;
  uint64_t tls_handshakes = 0, tls_resumed = 0;
  std::map<std::string, uint64_t> tls_negotiated;
  std::map<std::string, std::string> tls_details;
  std::map<std::string, std::string> failure_samples;
  Histogram ws_upgrade;
  uint64_t ws_upgrades = 0, ws_pings = 0, ws_pongs = 0, ws_closed_cleanly = 0;
  std::string error;
  LoadModelTally load_models;

  for (size_t i = 0; i < workers.size(); ++i) {
    const AgentWorkerShared& w = *workers[i];
    load_models.Add(w.reopen);
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
    const uint64_t first = Load(w.source_window_first);
    const uint64_t length = std::min(Load(w.source_window_length), capacity);
    for (uint64_t j = 0; j < length && first < used; ++j) {
      const uint64_t ordinal = (first + j) % used;
      tally->established[ordinal] += w.source_counts[j].established.load(std::memory_order_relaxed);
      tally->failed[ordinal] += w.source_counts[j].failed.load(std::memory_order_relaxed);
    }
    connect_latency.Add(w.connect_latency);
    echo_rtt.Add(w.echo_rtt);
    connect_queue.Add(w.connect_queue);
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
    ReadFailureSamples(w, &failure_samples);
    ws_upgrade.Add(w.ws_upgrade);
    ws_upgrades += Load(w.ws_upgrades);
    ws_pings += Load(w.ws_pings);
    ws_pongs += Load(w.ws_pongs);
    ws_closed_cleanly += Load(w.ws_closed_cleanly);
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
  ReportSources(sources, tally, report);

  report->clear_connect_latency();
  report->clear_echo_rtt();
  report->clear_connect_queue();
  connect_queue.ToProto(report->mutable_connect_queue());
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
  report->mutable_failure_samples()->clear();
  for (const auto& [reason, bytes] : failure_samples) (*report->mutable_failure_samples())[reason] = bytes;
  report->set_ws_upgrades(ws_upgrades);
  report->clear_ws_upgrade();
  if (ws_upgrade.count() > 0) ws_upgrade.ToProto(report->mutable_ws_upgrade());
  report->set_ws_pings(ws_pings);
  report->set_ws_pongs(ws_pongs);
  report->set_ws_closed_cleanly(ws_closed_cleanly);
  if (!error.empty()) report->set_error(error);
  load_models.ToReport(report);
}

}  // namespace fourtuple::agent
