// One agent's side of a run, as the coordinator sees it: the Run stream and
// the latest report.
//
// The session probes the agent (a fast, bounded check that it is reachable,
// which also yields its host facts), then opens the Run stream, sends the
// assignment and then the commands the driver queues with Send(), in order,
// while it takes the agent's reports. Everything runs on gRPC's callback API
// (a ClientBidiReactor): no thread of its own, so a thousand agents cost a
// thousand streams, not two thousand threads. Send never waits on the
// network: an agent that stops reading its stream (stopped, swapping, on a
// congested link) holds up only its own queue, never the driver nor the
// other agents.
//
// Queued commands are few by construction: a heartbeat is dropped when any
// command is already waiting (every command renews the agent's lease, and
// the waiting one arrives first), and phase commands come one per phase.
// An agent that leaves kMaxQueuedCommands untaken has stopped taking
// commands: the session ends its call rather than queue without bound.
//
// gRPC allows one read and one write in flight per stream: a read is always
// outstanding while the stream is open, and the write side starts the next
// write (or the half-close) only when the previous one is done.
//
// Thread-safety: Send, Snapshot, version, WritesDone, Cancel may be called
// from any thread; Start and Join from the owning (driver) thread only.
#ifndef FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
#define FOURTUPLE_COORDINATOR_AGENT_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/fan_out.h"
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

class AgentSession : private grpc::ClientBidiReactor<v1::RunCommand, v1::RunReport> {
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
  ~AgentSession() override;  // Cancel() and Join().
  AgentSession(const AgentSession&) = delete;
  AgentSession& operator=(const AgentSession&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Starts the probe, then the Run call. `probe_timeout` bounds the probe.
  // With `known_facts` (from a probe moments ago) there is no probe: the
  // session takes them as the probe's answer and opens the Run call. With a
  // `fan_out` (which must outlive the session), the session waits for a slot
  // there and gives it back once the assignment is written to the stream
  // (or the agent's first report came, or the session ended).
  void Start(const v1::Assignment& assignment, absl::Duration probe_timeout, FanOut* fan_out = nullptr,
             const v1::HostFacts* known_facts = nullptr);

  // Commands an agent may leave untaken before its call is ended.
  static constexpr size_t kMaxQueuedCommands = 32;

  // Queues one command; never waits for the agent. False when the stream is
  // not open, is broken, or was half-closed (the report stream then ends too
  // and Snapshot shows it).
  bool Send(const v1::RunCommand& command);

  // Tells the agent no more commands come (half-close), after those queued.
  void WritesDone();

  // Ends the call now (the agent sees the stream break and closes the run's
  // connections).
  void Cancel();

  // Waits for the session to end: the probe failed or the call is over.
  void Join();

  Snapshot snapshot() const;
  // The same without the report's histograms and per-source maps (most of a
  // report's size): what the driver needs while the run goes on. Copying
  // them for a thousand agents a second was most of the coordinator's
  // allocation churn, and its peak memory with it.
  Snapshot light_snapshot();

  // Moves each time the snapshot changes: the driver copies a snapshot only
  // when this differs from the version it saw last.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  void OnProbeDone(const grpc::Status& status);
  // Opens the Run call (the probe answered, or was not needed).
  void OpenRunCall();
  // Starts the next queued write, or the half-close, if none is in flight.
  // Called without write_mu_ held.
  void PumpWrites();
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;
  void End(absl::Status status);
  void ReleaseFanOut();
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string endpoint_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  Notifier* const notifier_;

  // Set by Start, before any call begins; live until the session is destroyed.
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  v1::ProbeRequest probe_request_;
  v1::HostFacts probe_facts_;  // written by the probe, read in OnProbeDone
  bool started_ = false;       // owned by the driver thread
  bool joined_ = false;        // owned by the driver thread
  FanOut* fan_out_ = nullptr;
  std::atomic<bool> fan_out_released_{false};

  // TryCancel is thread-safe and, before a call starts, makes it start
  // cancelled.
  grpc::ClientContext probe_context_;
  grpc::ClientContext context_;  // the Run call's

  // Only the callback that owns the read touches it.
  v1::RunReport incoming_;

  // The commands waiting to be written and the write side's state.
  absl::Mutex write_mu_;
  std::deque<v1::RunCommand> queue_ ABSL_GUARDED_BY(write_mu_);
  v1::RunCommand writing_;  // the write in flight; touched by whoever set write_busy_
  bool write_busy_ ABSL_GUARDED_BY(write_mu_) = false;   // a write or the half-close in flight
  bool writable_ ABSL_GUARDED_BY(write_mu_) = false;     // open, not broken, reads not over
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;  // half-close asked for
  bool half_closed_ ABSL_GUARDED_BY(write_mu_) = false;  // half-close started

  mutable absl::Mutex mu_;
  Snapshot state_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status abandoned_ ABSL_GUARDED_BY(mu_);  // why Send ended the call, if it did
  std::atomic<uint64_t> version_{0};
  // Counted down by End, the session's last touch of itself: no callback
  // runs after it.
  absl::BlockingCounter ended_{1};
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_AGENT_SESSION_H_
