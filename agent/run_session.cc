#include "agent/run_session.h"

#include <sys/wait.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/worker_plan.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace fourtuple::agent {

absl::StatusOr<std::unique_ptr<RunSession>> RunSession::Start(Config config) {
  std::unique_ptr<RunSession> session(new RunSession(std::move(config)));
  if (absl::StatusOr<ListenCounters> counters = ReadListenCounters(); counters.ok()) {
    session->listen_baseline_ = *counters;
  }
  const Config& c = session->config_;
  std::vector<v1::WorkerStart> slices = SplitIntoSlices(c.assignment.assignment, c.workers);
  // Every block holds the longest slice's window of source address counters.
  uint64_t window = 0;
  for (const v1::WorkerStart& slice : slices) {
    window =
        std::max(window, c.assignment.sources.WindowOf(slice.first_connection(), slice.connections()).length);
  }
  session->block_bytes_ = SharedBytesFor(window);
  ASSIGN_OR_RETURN(session->pool_, WorkerPool::Exec(c.workers, session->block_bytes_, c.worker_argv));
  for (int i = 0; i < session->pool_->count(); ++i) {
    session->shared_.push_back(static_cast<const AgentWorkerShared*>(session->pool_->shared(i)));
  }
  for (int i = 0; i < c.workers; ++i) {
    v1::WorkerCommand command;
    *command.mutable_start() = std::move(slices[i]);
    absl::Status sent = session->pool_->Send(i, command.SerializeAsString());
    if (!sent.ok()) {
      return absl::Status(sent.code(), absl::StrCat("starting worker ", i, " (pid ", session->pool_->pid(i),
                                                    "): ", sent.message()));
    }
  }
  return session;
}

RunSession::~RunSession() { Terminate(absl::Seconds(5)); }

absl::Status RunSession::Forward(const v1::WorkerCommand& command) {
  if (terminated_) return absl::FailedPreconditionError("the run's workers are gone");
  return pool_->SendAll(command.SerializeAsString());
}

std::vector<WorkerPool::Exit> RunSession::Reap() {
  if (terminated_) return {};
  return pool_->Reap();
}

PhaseSummary RunSession::Phase() const { return SummarizePhases(shared_); }

void RunSession::KeepAlive() {
  if (terminated_) return;
  for (int i = 0; i < pool_->count(); ++i) {
    static_cast<AgentWorkerShared*>(pool_->shared(i))->front_beats.fetch_add(1, std::memory_order_relaxed);
  }
}

v1::RunReport RunSession::BuildReport() {
  v1::RunReport report;
  AggregateWorkers(shared_, block_bytes_, config_.assignment.sources, &source_tally_, &report);
  report.set_seq(++seq_);
  report.set_host(config_.host);
  report.set_processes(static_cast<uint32_t>(config_.workers));
  report.set_requested(config_.assignment.assignment.connections());
  report.set_elapsed_seconds(absl::ToDoubleSeconds(absl::Now() - config_.started));
  AddListenCounters(report);
  return report;
}

void RunSession::AddListenCounters(v1::RunReport& report) const {
  if (!listen_baseline_.has_value()) return;
  absl::StatusOr<ListenCounters> now = ReadListenCounters();
  if (!now.ok()) return;
  const ListenCounters since = ListenCountersSince(*listen_baseline_, *now);
  report.set_kernel_counters(true);
  report.set_listen_overflows(since.listen_overflows);
  report.set_listen_drops(since.listen_drops);
  report.set_syncookies_sent(since.syncookies_sent);
}

void RunSession::Terminate(absl::Duration grace) {
  if (terminated_ || pool_ == nullptr) return;
  terminated_ = true;
  for (const WorkerPool::Exit& exit : pool_->Terminate(grace)) {
    // Exit 0 after SIGTERM is the normal end; anything else is worth a line.
    if (!WIFEXITED(exit.wait_status) || WEXITSTATUS(exit.wait_status) != 0) {
      LOG_WARNING("run %s: %s", run_id(), exit.Describe());
    }
  }
}

std::string RunSession::DescribePids() const {
  std::vector<pid_t> pids;
  for (int i = 0; pool_ != nullptr && i < pool_->count(); ++i) pids.push_back(pool_->pid(i));
  return absl::StrCat("pid ", absl::StrJoin(pids, ", "));
}

}  // namespace fourtuple::agent
