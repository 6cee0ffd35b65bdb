// One agent's side of a run, as the coordinator sees it: the Run stream, a
// thread that reads the agent's reports, and the latest report.
//
// The session thread probes the agent (a fast, bounded check that it is
// reachable, which also yields its host facts), opens the Run stream, starts
// the writer thread, then reads reports until the stream ends. The writer
// thread sends the assignment, then the commands the driver queues with
// Send(), in order. Send never waits on the network: an agent that stops
// reading its stream (stopped, swapping, on a congested link) holds up only
// its own writer thread, never the driver nor the other agents.
//
// Queued commands are few by construction: a heartbeat is dropped when any
// command is already waiting (every command renews the agent's lease, and
// the waiting one arrives first), and phase commands come one per phase.
// An agent that leaves kMaxQueuedCommands untaken has stopped taking
// commands: the session ends its call rather than queue without bound.
//
// gRPC's synchronous stream allows one reader and one writer at a time:
// reads happen only on the session thread, writes only on the writer thread,
// and Finish() runs on the session thread once reads have ended and the
// writer thread has been joined.
//
// Thread-safety: Send, Snapshot, WritesDone, Cancel may be called from any
// thread; Start and Join from the owning (driver) thread only.
#ifndef FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
#define FOURTUPLE_COORDINATOR_AGENT_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/fourtuple.grpc.pb.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// Wakes the driver when any session has news (a report, a state change).
// Thread-safe.
class Notifier {
 public:
  void Notify();
  // The current generation; pass it to WaitForChange.
  uint64_t generation() const;
  // Waits until the generation differs from `seen` or `deadline` passes.
  void WaitForChange(uint64_t seen, absl::Time deadline);

 private:
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

class AgentSession {
 public:
  // How far the session got; only moves forward.
  enum class Stage {
    kProbing,    // checking that the agent answers
    kStreaming,  // Run stream open, assignment sent
    kEnded,      // stream over (end_status says how), or never opened
  };

  // What the driver reads: a consistent copy taken under the lock.
  struct Snapshot {
    Stage stage = Stage::kProbing;
    bool reached = false;  // the probe answered
    bool has_report = false;
    v1::RunReport report;  // the latest report (valid when has_report)
    uint64_t reports = 0;  // reports received
    absl::Time last_report_time = absl::InfinitePast();
    v1::HostFacts facts;      // from the probe
    absl::Status end_status;  // valid in kEnded: the probe's status (when not
                              // reached) or the Run call's
  };

  // `notifier` must outlive the session.
  AgentSession(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials,
               Notifier* notifier);
  ~AgentSession();  // Cancel() and Join().
  AgentSession(const AgentSession&) = delete;
  AgentSession& operator=(const AgentSession&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Starts the session thread. `probe_timeout` bounds the reachability probe.
  void Start(const v1::Assignment& assignment, absl::Duration probe_timeout);

  // Commands an agent may leave untaken before its call is ended.
  static constexpr size_t kMaxQueuedCommands = 32;

  // Queues one command for the writer thread; never waits for the agent.
  // False when the stream is not open, is broken, or was half-closed (the
  // report stream then ends too and Snapshot shows it).
  bool Send(const v1::RunCommand& command);

  // Tells the agent no more commands come (half-close), after those queued.
  void WritesDone();

  // Ends the call now (the agent sees the stream break and closes the run's
  // connections).
  void Cancel();

  // Waits for the session thread to end.
  void Join();

  Snapshot snapshot() const;

 private:
  void Body(v1::Assignment assignment, absl::Duration probe_timeout);
  // The writer thread: the assignment, then queued commands, then the
  // half-close when asked, until the stream breaks or reads end.
  void WriteLoop(grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>* stream, v1::RunCommand assignment);
  void End(absl::Status status);

  // Constant after construction.
  const std::string endpoint_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  Notifier* const notifier_;

  // The Run call's context: TryCancel is thread-safe and, before the call
  // starts, makes it start cancelled.
  grpc::ClientContext context_;

  // The commands waiting for the writer thread and the write side's state.
  absl::Mutex write_mu_;
  absl::CondVar write_wake_;  // a command, the half-close or the end
  std::deque<v1::RunCommand> queue_ ABSL_GUARDED_BY(write_mu_);
  bool writable_ ABSL_GUARDED_BY(write_mu_) = false;     // open, not broken, reads not over
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;  // half-close asked for
  bool writer_stop_ ABSL_GUARDED_BY(write_mu_) = false;  // reads over: write no more

  mutable absl::Mutex mu_;
  Snapshot state_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status abandoned_ ABSL_GUARDED_BY(mu_);  // why Send ended the call, if it did

  std::thread thread_;  // owned by the driver thread
  std::thread writer_;  // owned by the session thread
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
