#include "target-server/target_metrics.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/prometheus_text.h"

namespace fourtuple::target_server {

std::string RenderTargetMetrics(const CounterSet& counters, absl::Time start, absl::Time now) {
  // Each worker's block is read once, so the total is the sum of the
  // per-worker lines below it.
  std::vector<CounterValues> workers;
  CounterValues total;
  int alive = 0;
  for (int i = 0; i < counters.size(); ++i) {
    workers.push_back(counters.Worker(i));
    total.Add(workers.back());
    if (counters.alive(i)) ++alive;
  }

  PrometheusText out;
  out.Gauge("fourtuple_target_open_connections", "Connections accepted and not yet closed.", total.open);
  out.Counter("fourtuple_target_connections_accepted_total", "Connections accepted since start.",
              total.accepted);
  out.Counter("fourtuple_target_connections_closed_total",
              "Connections closed since start (by the peer, an error, or a worker's death).", total.closed);
  out.Counter("fourtuple_target_bytes_echoed_total", "Bytes written back to clients since start.",
              total.bytes_echoed);
  out.Counter("fourtuple_target_at_capacity_total",
              "Times a worker stopped accepting because it held its connection budget (out of fds).",
              total.at_capacity);
  out.Family("fourtuple_target_accept_errors_total", "counter",
             "accept(2) failures by errno name; a reason appears once it has happened.");
  for (int reason = 0; reason < kReasonSlots; ++reason) {
    if (total.accept_errors[reason] == 0) continue;
    out.Sample("fourtuple_target_accept_errors_total", {{"reason", ReasonName(reason)}},
               total.accept_errors[reason]);
  }
  out.Family("fourtuple_target_worker_open_connections", "gauge",
             "Connections open in each worker process (worker index 0..processes-1).");
  for (int i = 0; i < static_cast<int>(workers.size()); ++i) {
    const std::string index = absl::StrCat(i);
    out.Sample("fourtuple_target_worker_open_connections", {{"worker", index}}, workers[i].open);
  }
  out.Family("fourtuple_target_worker_alive", "gauge",
             "1 while the worker process runs, 0 once it has exited (its open count is then 0).");
  for (int i = 0; i < counters.size(); ++i) {
    out.Sample("fourtuple_target_worker_alive", {{"worker", absl::StrCat(i)}},
               static_cast<uint64_t>(counters.alive(i) ? 1 : 0));
  }
  out.Gauge("fourtuple_target_workers", "Worker processes started.", static_cast<uint64_t>(counters.size()));
  out.Gauge("fourtuple_target_workers_alive", "Worker processes still running.",
            static_cast<uint64_t>(alive));
  out.Gauge("fourtuple_target_uptime_seconds", "Seconds since the server started.",
            absl::ToDoubleSeconds(now - start));
  return out.Take();
}

}  // namespace fourtuple::target_server
