// The fourtuple.v1.Agent gRPC service: Probe answers host facts; Run drives
// one run (assignment -> worker processes -> phase commands -> reports) over
// a bidirectional stream that doubles as the lease.
//
// Thread-safety: thread-safe; gRPC calls the handlers from its thread pool.
// Each Run handler uses two threads: the handler thread owns the run and
// turns its RunLoop (run_loop.h: workers, reports, lease) every poll period,
// and is the only writer; a reader thread blocks in Read() and queues
// commands. So that silent callers cannot hold threads, a Run stream must
// send its assignment within timings.assignment_timeout, and at most
// max_run_streams are open at once.
#ifndef FOURTUPLE_AGENT_AGENT_SERVICE_H_
#define FOURTUPLE_AGENT_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/agent_options.h"
#include "agent/first_message_watch.h"
#include "agent/run_loop.h"
#include "agent/run_session.h"
#include "proto/fourtuple.grpc.pb.h"

namespace fourtuple::agent {

class AgentService final : public v1::Agent::Service {
 public:
  struct Config {
    AgentOptions options;
    std::vector<std::string> worker_argv;  // how to start a worker: {"/path/agent-worker", ...}
    RunTimings timings;
    // Run streams open at once (the active run's, and streams still to send
    // their assignment); more are refused with RESOURCE_EXHAUSTED.
    int max_run_streams = 8;
  };

  explicit AgentService(Config config);

  grpc::Status Probe(grpc::ServerContext* context, const v1::ProbeRequest* request,
                     v1::HostFacts* response) override;
  grpc::Status Run(grpc::ServerContext* context,
                   grpc::ServerReaderWriter<v1::RunReport, v1::RunCommand>* stream) override;

  // Ends the active run, if any (its workers are terminated: every connection
  // closes) and refuses new ones. Returns at once; the run's handler returns
  // within a poll period plus terminate_grace.
  void BeginShutdown();

  // Waits until no run holds workers (after BeginShutdown: until the active
  // run's workers are gone); false on timeout.
  bool WaitUntilNoRun(absl::Duration timeout);

  // The Prometheus text for GET /metrics (agent_metrics.h). Thread-safe.
  std::string RenderMetrics() const { return metrics_.Render(); }

 private:
  using Stream = grpc::ServerReaderWriter<v1::RunReport, v1::RunCommand>;
  struct CommandChannel;
  class ActiveRunSlot;

  // Validates the assignment and works out the worker count.
  absl::StatusOr<RunSession::Config> PrepareRun(const v1::Assignment& assignment, absl::Time started);
  // Runs the session's RunLoop until it ends; never returns with workers
  // alive.
  RunEnd DriveRun(Stream* stream, CommandChannel& channel, RunSession& session, absl::Time started);
  std::string HostName() const;

  // Constant after construction.
  const Config config_;

  AgentMetrics metrics_;             // thread-safe
  FirstMessageWatch first_message_;  // thread-safe
  std::atomic<int> open_run_streams_{0};
  std::atomic<bool> shutting_down_{false};
  absl::Mutex mu_;
  std::string active_run_ ABSL_GUARDED_BY(mu_);  // run id; empty when idle
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_SERVICE_H_
