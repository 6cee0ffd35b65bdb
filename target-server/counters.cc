#include "target-server/counters.h"

#include <utility>

#include "nlohmann/json.hpp"

namespace fourtuple::target_server {

void CounterValues::Add(const CounterValues& other) {
  open += other.open;
  accepted += other.accepted;
  closed += other.closed;
  bytes_echoed += other.bytes_echoed;
  for (int i = 0; i < kReasonSlots; ++i) accept_errors[i] += other.accept_errors[i];
  at_capacity += other.at_capacity;
  tls_handshakes += other.tls_handshakes;
  tls_failed += other.tls_failed;
}

void CounterValues::ToProto(v1::TargetCounters* out) const {
  out->set_open(open);
  out->set_accepted(accepted);
  out->set_closed(closed);
  out->set_bytes_echoed(bytes_echoed);
  out->set_at_capacity(at_capacity);
  out->set_tls_handshakes(tls_handshakes);
  out->set_tls_failed(tls_failed);
  auto& errors = *out->mutable_accept_errors();
  for (int i = 0; i < kReasonSlots; ++i) {
    if (accept_errors[i] != 0) errors[std::string(ReasonName(i))] = accept_errors[i];
  }
}

CounterValues ReadCounters(const WorkerCounters& counters, bool alive) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  CounterValues values;
  values.open = counters.open.load(kRelaxed);
  values.accepted = counters.accepted.load(kRelaxed);
  values.closed = counters.closed.load(kRelaxed);
  values.bytes_echoed = counters.bytes_echoed.load(kRelaxed);
  for (int i = 0; i < kReasonSlots; ++i) values.accept_errors[i] = counters.accept_errors[i].load(kRelaxed);
  values.at_capacity = counters.at_capacity.load(kRelaxed);
  values.tls_handshakes = counters.tls_handshakes.load(kRelaxed);
  values.tls_failed = counters.tls_failed.load(kRelaxed);
  if (!alive) {
    values.closed += values.open;
    values.open = 0;
  }
  return values;
}

CounterSet::CounterSet(std::vector<const WorkerCounters*> blocks)
    : blocks_(std::move(blocks)), alive_(new std::atomic<bool>[blocks_.size()]) {
  for (size_t i = 0; i < blocks_.size(); ++i) alive_[i].store(true, std::memory_order_relaxed);
}

CounterValues CounterSet::Worker(int index) const { return ReadCounters(*blocks_[index], alive(index)); }

CounterValues CounterSet::Total() const {
  CounterValues total;
  for (int i = 0; i < size(); ++i) total.Add(Worker(i));
  return total;
}

std::string StatsLine(const CounterValues& values, absl::Time now, bool final) {
  // ordered_json keeps the documented key order; t has millisecond precision.
  nlohmann::ordered_json line;
  line["t"] = static_cast<double>(absl::ToUnixMillis(now)) / 1000.0;
  line["open"] = values.open;
  line["accepted"] = values.accepted;
  line["closed"] = values.closed;
  line["bytes_echoed"] = values.bytes_echoed;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (int i = 0; i < kReasonSlots; ++i) {
    if (values.accept_errors[i] != 0) errors[std::string(ReasonName(i))] = values.accept_errors[i];
  }
  line["accept_errors"] = std::move(errors);
  if (values.tls_handshakes != 0 || values.tls_failed != 0) {
    line["tls_handshakes"] = values.tls_handshakes;
    line["tls_failed"] = values.tls_failed;
  }
  if (final) line["final"] = true;
  return line.dump();
}

void FillTargetStats(const CounterSet& counters, const std::vector<std::string>& listen,
                     absl::Duration uptime, v1::TargetStats* out) {
  CounterValues total;
  for (int i = 0; i < counters.size(); ++i) {
    CounterValues worker = counters.Worker(i);
    v1::TargetCounters* entry = out->add_workers();
    worker.ToProto(entry);
    entry->set_alive(counters.alive(i));
    total.Add(worker);
  }
  total.ToProto(out->mutable_total());
  for (const std::string& address : listen) out->add_listen(address);
  out->set_uptime_seconds(absl::ToDoubleSeconds(uptime));
}

}  // namespace fourtuple::target_server
