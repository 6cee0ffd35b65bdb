// One agent's side of a run, as the coordinator sees it: the Run stream, a
// thread that reads the agent's reports, and the latest report.
//
// The session thread probes the agent (a fast, bounded check that it is
// reachable, which also yields its host facts), opens the Run stream, sends
// the assignment, then reads reports until the stream ends. The driver thread
// sends phase commands with Send(). gRPC's synchronous stream allows one
// reader and one writer at a time: reads happen only on the session thread,
// writes are serialized by write_mu_, and Finish() runs only once reads have
// ended and no write can start.
//
// Thread-safety: Send, Snapshot, WritesDone, Cancel may be called from any
// thread; Start and Join from the owning (driver) thread only.
#ifndef FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
#define FOURTUPLE_COORDINATOR_AGENT_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
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

  // Writes one command. False when the stream is not open or is broken
  // (the report stream then ends too and Snapshot shows it).
  bool Send(const v1::RunCommand& command);

  // Tells the agent no more commands come (half-close).
  void WritesDone();

  // Ends the call now (the agent sees the stream break and closes the run's
  // connections).
  void Cancel();

  // Waits for the session thread to end.
  void Join();

  Snapshot snapshot() const;

 private:
  void Body(v1::Assignment assignment, absl::Duration probe_timeout);
  void End(absl::Status status);

  // Constant after construction.
  const std::string endpoint_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  Notifier* const notifier_;

  // The Run call's context: TryCancel is thread-safe and, before the call
  // starts, makes it start cancelled.
  grpc::ClientContext context_;

  // Serializes writes (the driver's and the session thread's assignment) and
  // guards the stream's write side.
  absl::Mutex write_mu_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>> stream_;
  bool writable_ ABSL_GUARDED_BY(write_mu_) = false;
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;

  mutable absl::Mutex mu_;
  Snapshot state_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // owned by the driver thread
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
