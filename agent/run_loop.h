// The loop that drives one run once its workers are started: what the
// coordinator sent (commands, the end of its stream) and the time go in;
// commands to the workers, reports to the coordinator and how the run ended
// come out. The lease is kept here: a coordinator silent for longer than
// lease_ms loses the run, and every connection of it is closed.
//
// It knows nothing of gRPC, threads or the wall clock: AgentService feeds it
// from the Run stream's reader thread every poll period with absl::Now(), and
// tests feed it by hand with fake workers, a fake stream and a made-up time.
//
// Thread-safety: thread-compatible; one thread (the Run handler) drives it.
#ifndef FOURTUPLE_AGENT_RUN_LOOP_H_
#define FOURTUPLE_AGENT_RUN_LOOP_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/report_aggregator.h"
#include "common/worker_pool.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// Timing of a run that is not in the assignment: the agent's own bounds,
// named in one place. The agent (agent_server.cc) keeps these defaults;
// run_loop_test.cc shortens them.
struct RunTimings {
  // A Run stream must send its assignment within this of opening, or it is
  // cancelled (its handler thread is freed).
  absl::Duration assignment_timeout = absl::Seconds(10);
  // How often the handler checks workers, commands and the lease; also the
  // delay of a phase-change report (commands wake it at once). 100 ms: a
  // thousand agents on one host polling every 20 ms woke 50,000 times a
  // second between them.
  absl::Duration poll = absl::Milliseconds(100);
  // Workers must be ready (tables built) within this.
  absl::Duration start_timeout = absl::Seconds(30);
  // After close, workers must report closed within this; then they are
  // killed anyway (which closes their sockets) and the final report is sent.
  absl::Duration close_timeout = absl::Seconds(60);
  // SIGTERM to SIGKILL when ending workers.
  absl::Duration terminate_grace = absl::Seconds(5);
  // After the final report, how long the client has to half-close before
  // the stream is cancelled (a Read still pending must end before the
  // handler may return).
  absl::Duration reader_grace = absl::Seconds(3);
};

// The run's worker processes as the loop uses them (RunSession in
// production).
class RunWorkers {
 public:
  virtual ~RunWorkers() = default;
  // Sends connect, echo or close to every worker.
  virtual absl::Status Forward(const v1::WorkerCommand& command) = 0;
  // Workers that exited since the last call (none after Terminate).
  virtual std::vector<WorkerPool::Exit> Reap() = 0;
  virtual PhaseSummary Phase() const = 0;
  // Renews the workers' lease on the front (worker_protocol.h): called every
  // turn, so workers whose front stops turning close their connections.
  virtual void KeepAlive() = 0;
  // A full report: next seq, phase and counters.
  virtual v1::RunReport BuildReport() = 0;
  // Ends every worker, which closes their connections. Idempotent.
  virtual void Terminate(absl::Duration grace) = 0;
};

// Where the run's reports go (the Run stream in production).
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  // False when the stream is broken: the report was not delivered.
  virtual bool Write(const v1::RunReport& report) = 0;
};

// What the coordinator's stream delivered since the previous Step.
struct StreamInput {
  std::deque<v1::RunCommand> commands;             // in arrival order
  absl::Time last_command = absl::InfinitePast();  // when the newest command arrived
  bool ended = false;                              // no command can follow
  bool broke = false;                              // with `ended`: the stream broke rather than half-closed
};

// How a run ended: the status the handler returns, and whether the stream
// must be cancelled at once (the client is gone, silent or being shut out)
// rather than given reader_grace to half-close after its final report.
struct RunEnd {
  absl::Status status;
  bool cancel_stream = false;
};

class RunLoop {
 public:
  struct Config {
    std::string run_id;              // for log lines
    absl::Duration report_interval;  // assignment.report_interval_ms
    absl::Duration lease;            // assignment.lease_ms
    absl::Time started;              // when the assignment arrived: the lease runs from it
    RunTimings timings;
    AgentMetrics* metrics = nullptr;  // told every periodic report; may be null
  };

  // The config of the run `assignment` describes.
  static Config ConfigFor(const v1::Assignment& assignment, const RunTimings& timings, absl::Time started,
                          AgentMetrics* metrics);

  // `workers` are started (RunSession::Start); `now` starts start_timeout.
  // Both references must outlive the loop.
  RunLoop(Config config, RunWorkers& workers, ReportSink& reports, absl::Time now);

  // One turn at `now`: takes the commands in `input` in order, then checks
  // the stream, the lease, the workers and their phase, and reports when the
  // phase or echo progress moved or report_interval has passed. Returns how
  // the run ended, once it has (its workers are then terminated and any
  // report the coordinator should get is written), else nullopt. Not to be
  // called again after it returned an end. `shutting_down`: the agent is
  // stopping; the run ends with UNAVAILABLE.
  std::optional<RunEnd> Step(absl::Time now, StreamInput input, bool shutting_down = false);

 private:
  enum class Stage { kStarting, kRunning, kClosing };

  // Ends the run on a failure the coordinator should hear about: workers
  // are terminated, then one FAILED report carries the reason.
  RunEnd Fail(const absl::Status& status);
  // The stream is unusable: no report can be delivered.
  RunEnd Abandon(const absl::Status& status);
  // Applies one command; an end when it breaks the protocol.
  std::optional<RunEnd> Apply(const v1::RunCommand& command, absl::Time now);
  void Forward(const v1::WorkerCommand& command);
  void BeginClose(absl::Time now);
  // Workers are closed (or close_timeout passed): the final report.
  RunEnd Finish(const PhaseSummary& summary);

  const Config config_;
  RunWorkers& workers_;
  ReportSink& reports_;

  Stage stage_ = Stage::kStarting;
  const absl::Time start_deadline_;
  absl::Time close_deadline_ = absl::InfiniteFuture();
  absl::Time next_report_ = absl::InfinitePast();
  absl::Time last_command_;
  PhaseSummary last_sent_;
  bool connect_sent_ = false;
  uint32_t last_echo_round_ = 0;
  bool stream_ended_ = false;
  bool stream_broke_ = false;
  bool half_closed_ = false;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_RUN_LOOP_H_
