// One run's worker processes: starts them with their slices, forwards
// commands, notices deaths, and turns their shared blocks into reports.
// It knows nothing of gRPC; a RunLoop (run_loop.h) drives it, fed from the
// Run stream by agent_service.cc.
//
// Thread-safety: thread-compatible; one thread (the Run handler) uses it.
// Destroying it terminates every worker, which closes their connections.
#ifndef FOURTUPLE_AGENT_RUN_SESSION_H_
#define FOURTUPLE_AGENT_RUN_SESSION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/assignment_validation.h"
#include "agent/report_aggregator.h"
#include "agent/run_loop.h"
#include "agent/worker/worker_protocol.h"
#include "common/listen_counters.h"
#include "common/worker_pool.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

class RunSession final : public RunWorkers {
 public:
  struct Config {
    ValidatedAssignment assignment;
    int workers = 1;                       // from DecideWorkerCount
    std::vector<std::string> worker_argv;  // agent-worker and its arguments
    std::string host;                      // reported as RunReport.host
    absl::Time started;                    // when the assignment arrived
  };

  // Execs the workers and sends each its WorkerStart. Workers are then
  // starting; Phase() reports READY once every one has built its table.
  static absl::StatusOr<std::unique_ptr<RunSession>> Start(Config config);

  ~RunSession() override;
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  // Sends connect, echo or close to every worker.
  absl::Status Forward(const v1::WorkerCommand& command) override;

  // Workers that exited since the last call. Any exit before Terminate() is
  // a failure: workers only leave when told to.
  std::vector<WorkerPool::Exit> Reap() override;

  PhaseSummary Phase() const override;

  // Bumps front_beats in every worker's shared block.
  void KeepAlive() override;

  // A full report (next seq, phase and counters from the workers).
  v1::RunReport BuildReport() override;

  // Ends every worker (SIGTERM, then SIGKILL after `grace`): their sockets
  // close with them. Idempotent. The shared blocks stay readable, so a final
  // report can still be built.
  void Terminate(absl::Duration grace) override;
  bool terminated() const { return terminated_; }

  const std::string& run_id() const { return config_.assignment.assignment.run_id(); }
  const v1::Assignment& assignment() const { return config_.assignment.assignment; }
  int workers() const { return config_.workers; }
  // "pid 1, 2, 3" for logs.
  std::string DescribePids() const;

 private:
  explicit RunSession(Config config) : config_(std::move(config)) {}
  void AddListenCounters(v1::RunReport& report) const;

  // Constant after Start().
  Config config_;
  std::unique_ptr<WorkerPool> pool_;
  std::vector<const AgentWorkerShared*> shared_;
  // This host's listener counters when the run started (reports carry the
  // change since); unset when /proc/net/netstat could not be read.
  std::optional<ListenCounters> listen_baseline_;
  size_t block_bytes_ = sizeof(AgentWorkerShared);
  SourceTally source_tally_;

  uint64_t seq_ = 0;
  bool terminated_ = false;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_RUN_SESSION_H_
