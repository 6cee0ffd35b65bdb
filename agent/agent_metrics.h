// The agent's Prometheus metrics (GET /metrics on --metrics), all named
// fourtuple_agent_*; README.md lists them.
//
// The figures come from the run's aggregated worker reports (the same
// RunReport the coordinator receives every report_interval), so a scrape is
// at most one report interval behind the workers. Counters (*_total) and the
// latency histograms cover the agent's whole life: every finished run plus
// the active run's latest report, so they never go down between runs.
// Gauges describe the active run and read 0 when no run is active;
// fourtuple_agent_run_phase keeps showing how the last run ended.
//
// Thread-safety: thread-safe. The Run handler thread reports; civetweb's
// threads render.
#ifndef FOURTUPLE_AGENT_AGENT_METRICS_H_
#define FOURTUPLE_AGENT_AGENT_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/histogram.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

class AgentMetrics {
 public:
  // A run's workers were started.
  void RunStarted();
  // The active run's latest aggregate.
  void Update(const v1::RunReport& report);
  // The run's workers are gone. `last` is its final aggregate; its counts
  // join the lifetime totals, its phase becomes CLOSED (ok) or FAILED.
  void RunEnded(const v1::RunReport& last, bool ok);

  // The exposition text.
  std::string Render() const;

 private:
  // Lifetime sums of the run counters.
  struct Totals {
    uint64_t attempted = 0;
    uint64_t established = 0;
    uint64_t failed = 0;
    uint64_t closed_by_peer = 0;
    uint64_t echo_sent = 0;
    uint64_t echo_verified = 0;
    uint64_t echo_mismatched = 0;
    uint64_t echo_timed_out = 0;
    uint64_t echo_closed = 0;
    std::map<std::string, uint64_t> failures;
    Histogram connect_latency;
    Histogram echo_rtt;
    void Add(const v1::RunReport& report);
  };

  mutable absl::Mutex mu_;
  Totals finished_ ABSL_GUARDED_BY(mu_);                      // runs that ended
  std::optional<v1::RunReport> active_ ABSL_GUARDED_BY(mu_);  // set while a run is active
  v1::RunPhase last_phase_ ABSL_GUARDED_BY(mu_) = v1::RUN_PHASE_UNSPECIFIED;
  uint64_t runs_started_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t runs_failed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_METRICS_H_
