#include "agent/agent_service.h"

#include <deque>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/assignment_validation.h"
#include "agent/worker_plan.h"
#include "common/duration.h"
#include "common/grpc_status.h"
#include "common/host_facts.h"
#include "common/logging.h"
#include "common/status_macros.h"

#ifndef FOURTUPLE_VERSION
#define FOURTUPLE_VERSION "unknown"
#endif

namespace fourtuple::agent {

// How a run ended: the status the handler returns, and whether the stream
// must be cancelled at once (the client is gone or silent) rather than given
// reader_grace to half-close after its final report.
struct AgentService::RunEnd {
  absl::Status status;
  bool cancel_stream = false;
};

// Commands from the reader thread to the handler thread.
struct AgentService::CommandChannel {
  absl::Mutex mu;
  std::deque<v1::RunCommand> queue ABSL_GUARDED_BY(mu);
  bool reader_done ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;  // the stream broke (not a half-close)
  absl::Time last_command ABSL_GUARDED_BY(mu);

  bool HasNews() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !queue.empty() || reader_done; }
};

// Holds the one-run-at-a-time slot; releases it when destroyed or Release()d.
class AgentService::ActiveRunSlot {
 public:
  ActiveRunSlot(AgentService* service) : service_(service) {}
  ~ActiveRunSlot() { Release(); }
  ActiveRunSlot(const ActiveRunSlot&) = delete;
  ActiveRunSlot& operator=(const ActiveRunSlot&) = delete;
  void Release() {
    if (service_ == nullptr) return;
    absl::MutexLock lock(&service_->mu_);
    service_->active_run_.clear();
    service_ = nullptr;
  }

 private:
  AgentService* service_;
};

namespace {

absl::Status Busy(absl::string_view run_id) {
  return absl::FailedPreconditionError(
      absl::StrCat("agent is busy with run ", run_id, " (one run at a time per agent)"));
}

template <typename Channel>
void ReadCommands(grpc::ServerContext* context,
                  grpc::ServerReaderWriter<v1::RunReport, v1::RunCommand>* stream, Channel* channel) {
  v1::RunCommand command;
  while (stream->Read(&command)) {
    absl::MutexLock lock(&channel->mu);
    channel->queue.push_back(std::move(command));
    channel->last_command = absl::Now();
    command.Clear();
  }
  absl::MutexLock lock(&channel->mu);
  channel->reader_done = true;
  channel->cancelled = context->IsCancelled();
}

void FillHostFacts(const HostFacts& facts, v1::HostFacts* out) {
  out->set_hostname(facts.hostname);
  out->set_boot_id(facts.boot_id);
  out->set_cores(facts.cores);
  out->set_memory_total_bytes(facts.memory_total_bytes);
  out->set_memory_available_bytes(facts.memory_available_bytes);
  out->set_nofile_soft(facts.nofile_soft);
  out->set_nofile_hard(facts.nofile_hard);
  out->set_nr_open(facts.nr_open);
  out->set_file_max(facts.file_max);
  out->set_port_range_low(facts.port_range_low);
  out->set_port_range_high(facts.port_range_high);
  out->set_somaxconn(facts.somaxconn);
  out->set_tcp_max_syn_backlog(facts.tcp_max_syn_backlog);
  out->set_conntrack_present(facts.conntrack_present);
  out->set_conntrack_max(facts.conntrack_max);
  out->set_conntrack_count(facts.conntrack_count);
  for (const std::string& address : facts.local_addresses) out->add_local_addresses(address);
}

}  // namespace

AgentService::AgentService(Config config) : config_(std::move(config)) {}

void AgentService::BeginShutdown() {
  absl::MutexLock lock(&mu_);  // ordered with claiming the run slot
  shutting_down_.store(true);
}

bool AgentService::WaitUntilNoRun(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_run_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

grpc::Status AgentService::Probe(grpc::ServerContext* context, const v1::ProbeRequest* /*request*/,
                                 v1::HostFacts* response) {
  if (grpc::Status allowed = config_.options.auth.Check(*context); !allowed.ok()) return allowed;
  absl::StatusOr<HostFacts> facts = ReadHostFacts();
  if (!facts.ok()) {
    return ToGrpcStatus(absl::InternalError(absl::StrCat("reading host facts: ", facts.status().message())));
  }
  FillHostFacts(*facts, response);
  if (!config_.options.host_label.empty()) response->set_hostname(config_.options.host_label);
  response->set_version(FOURTUPLE_VERSION);
  response->set_processes(static_cast<uint32_t>(config_.options.processes));
  return grpc::Status::OK;
}

absl::StatusOr<RunSession::Config> AgentService::PrepareRun(const v1::Assignment& assignment,
                                                            absl::Time started) {
  absl::StatusOr<HostFacts> facts = ReadHostFacts();
  if (!facts.ok()) {
    return absl::InternalError(absl::StrCat("reading host facts: ", facts.status().message()));
  }
  ValidationPolicy policy;
  policy.allow_targets = config_.options.allow_targets;
  policy.allow_targets_text = config_.options.allow_targets_text;
  policy.local_addresses = ParseLocalAddresses(facts->local_addresses);
  ASSIGN_OR_RETURN(ValidatedAssignment validated, ValidateAssignment(assignment, policy));

  WorkerCountRequest request;
  request.connections = assignment.connections();
  request.assignment_processes = assignment.processes();
  request.flag_processes = config_.options.processes;
  request.nofile_soft = facts->nofile_soft;
  request.cores = facts->cores;
  ASSIGN_OR_RETURN(int workers, DecideWorkerCount(request));

  RunSession::Config run;
  run.assignment = std::move(validated);
  run.workers = workers;
  run.worker_argv = config_.worker_argv;
  run.host = config_.options.host_label.empty() ? facts->hostname : config_.options.host_label;
  run.started = started;
  return run;
}

grpc::Status AgentService::Run(grpc::ServerContext* context, Stream* stream) {
  // Before anything is read: an unauthenticated caller learns nothing.
  if (grpc::Status allowed = config_.options.auth.Check(*context); !allowed.ok()) return allowed;
  if (shutting_down_.load()) return ToGrpcStatus(absl::UnavailableError("agent is shutting down"));
  {
    absl::MutexLock lock(&mu_);
    if (!active_run_.empty()) return ToGrpcStatus(Busy(active_run_));
  }
  v1::RunCommand first;
  if (!stream->Read(&first)) {
    return ToGrpcStatus(absl::CancelledError("the stream ended before the assignment"));
  }
  const absl::Time started = absl::Now();
  if (!first.has_assignment()) {
    return ToGrpcStatus(absl::InvalidArgumentError("the first command of a run must carry the assignment"));
  }
  absl::StatusOr<RunSession::Config> run = PrepareRun(first.assignment(), started);
  if (!run.ok()) {
    LOG_WARNING("refused run %s: %s", first.assignment().run_id(), run.status().ToString());
    return ToGrpcStatus(run.status());
  }
  {
    absl::MutexLock lock(&mu_);
    if (!active_run_.empty()) return ToGrpcStatus(Busy(active_run_));
    if (shutting_down_.load()) return ToGrpcStatus(absl::UnavailableError("agent is shutting down"));
    active_run_ = first.assignment().run_id();
  }
  ActiveRunSlot slot(this);

  const std::string& run_id = first.assignment().run_id();
  {
    const v1::Assignment& a = run->assignment.assignment;
    LOG_INFO("run %s: %d connections to %s from %d source addresses over %d worker processes", run_id,
             a.connections(), absl::StrJoin(a.targets(), ","), a.source_addresses_size(), run->workers);
  }
  absl::StatusOr<std::unique_ptr<RunSession>> session = RunSession::Start(*std::move(run));
  if (!session.ok()) {
    LOG_ERROR("run %s: starting workers: %s", run_id, session.status().ToString());
    return ToGrpcStatus(absl::Status(session.status().code(),
                                     absl::StrCat("starting workers: ", session.status().message())));
  }

  metrics_.RunStarted();
  CommandChannel channel;
  {
    absl::MutexLock lock(&channel.mu);
    channel.last_command = started;
  }
  std::thread reader(ReadCommands<CommandChannel>, context, stream, &channel);
  RunEnd end = DriveRun(stream, channel, **session);
  (*session)->Terminate(config_.timings.terminate_grace);
  {
    // The workers are gone and so are their connections; the blocks still
    // hold the run's final counts.
    v1::RunReport last = (*session)->BuildReport();
    last.set_open(0);
    last.set_in_flight(0);
    metrics_.RunEnded(last, end.status.ok());
  }
  session->reset();
  slot.Release();
  if (end.status.ok()) {
    LOG_INFO("run %s: closed", run_id);
  } else {
    LOG_WARNING("run %s ended: %s", run_id, end.status.ToString());
  }

  // A Read may still be pending in the reader thread; the handler must not
  // return before it ends. A well-behaved client half-closes after the final
  // report; give it reader_grace, then cancel.
  {
    absl::MutexLock lock(&channel.mu);
    if (!end.cancel_stream) {
      channel.mu.AwaitWithTimeout(absl::Condition(&channel.reader_done), config_.timings.reader_grace);
    }
    if (!channel.reader_done) context->TryCancel();
  }
  reader.join();
  return ToGrpcStatus(end.status);
}

AgentService::RunEnd AgentService::DriveRun(Stream* stream, CommandChannel& channel, RunSession& session) {
  enum class Stage { kStarting, kRunning, kClosing };
  const RunTimings& timings = config_.timings;
  const v1::Assignment& assignment = session.assignment();
  const absl::Duration interval = absl::Milliseconds(assignment.report_interval_ms());
  const absl::Duration lease = absl::Milliseconds(assignment.lease_ms());
  const std::string& run_id = session.run_id();

  Stage stage = Stage::kStarting;
  const absl::Time start_deadline = absl::Now() + timings.start_timeout;
  absl::Time close_deadline = absl::InfiniteFuture();
  absl::Time next_report = absl::InfinitePast();
  PhaseSummary last_sent;
  bool connect_sent = false;
  uint32_t last_echo_round = 0;
  bool half_closed = false;

  // Ends the run on a failure the coordinator should hear about: workers
  // are terminated, then one FAILED report carries the reason.
  auto fail = [&](const absl::Status& status) -> RunEnd {
    session.Terminate(timings.terminate_grace);
    v1::RunReport report = session.BuildReport();
    report.set_phase(v1::RUN_PHASE_FAILED);
    report.set_open(0);
    report.set_in_flight(0);
    report.set_error(std::string(status.message()));
    stream->Write(report);
    return RunEnd{status, false};
  };
  // The stream is unusable or the client silent: no report can be delivered.
  auto abandon = [&](const absl::Status& status) -> RunEnd {
    session.Terminate(timings.terminate_grace);
    LOG_WARNING("run %s: %s: every connection of the run was closed", run_id, status.message());
    return RunEnd{status, true};
  };
  auto forward = [&](const v1::WorkerCommand& command) {
    if (absl::Status sent = session.Forward(command); !sent.ok()) {
      // A worker that cannot take a command has died; Reap() reports it.
      LOG_WARNING("run %s: forwarding a command: %s", run_id, sent.ToString());
    }
  };
  auto begin_close = [&] {
    v1::WorkerCommand command;
    command.mutable_close();
    forward(command);
    stage = Stage::kClosing;
    close_deadline = absl::Now() + timings.close_timeout;
  };

  while (true) {
    std::deque<v1::RunCommand> commands;
    bool reader_done = false;
    bool cancelled = false;
    absl::Time last_command;
    {
      absl::MutexLock lock(&channel.mu);
      channel.mu.AwaitWithTimeout(absl::Condition(&channel, &CommandChannel::HasNews), timings.poll);
      commands.swap(channel.queue);
      reader_done = channel.reader_done;
      cancelled = channel.cancelled;
      last_command = channel.last_command;
    }
    const absl::Time now = absl::Now();

    if (shutting_down_.load()) {
      RunEnd end = fail(absl::UnavailableError("agent is shutting down: closed every connection of the run"));
      end.cancel_stream = true;  // shutdown does not wait for the client
      return end;
    }

    for (const v1::RunCommand& command : commands) {
      switch (command.command_case()) {
        case v1::RunCommand::kAssignment:
          return fail(absl::InvalidArgumentError(
              "assignment: only the first command of a run may carry an assignment"));
        case v1::RunCommand::kConnect: {
          if (connect_sent || stage == Stage::kClosing) {
            LOG_WARNING("run %s: connect ignored (%s)", run_id,
                        connect_sent ? "already connecting" : "closing");
            break;
          }
          connect_sent = true;
          v1::WorkerCommand forwarded;
          *forwarded.mutable_connect() = command.connect();
          forward(forwarded);
          break;
        }
        case v1::RunCommand::kEcho: {
          const uint32_t round = command.echo().round();
          if (round <= last_echo_round) {
            return fail(absl::InvalidArgumentError(absl::StrCat(
                "echo.round: ", round, " after round ", last_echo_round, "; rounds count up from 1")));
          }
          if (stage == Stage::kClosing) break;
          last_echo_round = round;
          v1::WorkerCommand forwarded;
          *forwarded.mutable_echo() = command.echo();
          forward(forwarded);
          break;
        }
        case v1::RunCommand::kClose:
          if (stage != Stage::kClosing) begin_close();
          break;
        case v1::RunCommand::kHeartbeat:
          break;  // it only refreshed the lease (last_command)
        case v1::RunCommand::COMMAND_NOT_SET:
          // Perhaps a newer coordinator's command; it still proves liveness.
          LOG_WARNING("run %s: ignored a command of unknown kind", run_id);
          break;
      }
    }

    if (reader_done && !half_closed) {
      if (cancelled) return abandon(absl::CancelledError("the coordinator's stream broke"));
      // Half-close: no command can follow, so the lease could never be kept.
      // The coordinator is still listening: close gracefully and report.
      half_closed = true;
      if (stage != Stage::kClosing) {
        LOG_INFO("run %s: the coordinator ended its commands without close: closing", run_id);
        begin_close();
      }
    }
    // The lease holds while the coordinator can still send; once closing,
    // the run ends within close_timeout anyway.
    // A silent coordinator may still be reading: tell it why in a FAILED
    // report before the stream is cancelled.
    if (stage != Stage::kClosing && now - last_command > lease) {
      absl::Status expired = absl::DeadlineExceededError(
          absl::StrCat("no command for ", FormatDuration(now - last_command), " (lease ",
                       FormatDuration(lease), "): closed every connection of the run"));
      LOG_WARNING("run %s: %s", run_id, expired.message());
      return fail(expired);
    }

    std::vector<WorkerPool::Exit> exits = session.Reap();
    if (!exits.empty()) {
      std::vector<std::string> lines;
      for (const WorkerPool::Exit& exit : exits) lines.push_back(exit.Describe());
      return fail(absl::AbortedError(absl::StrJoin(lines, "; ")));
    }

    const PhaseSummary summary = session.Phase();
    if (summary.phase == v1::RUN_PHASE_FAILED) {
      v1::RunReport report = session.BuildReport();
      return fail(absl::AbortedError(report.error().empty() ? "a worker failed" : report.error()));
    }
    bool force_report = false;
    if (stage == Stage::kStarting) {
      if (summary.phase == v1::RUN_PHASE_UNSPECIFIED) {
        if (now > start_deadline) {
          return fail(absl::DeadlineExceededError(absl::StrCat("worker processes were not ready within ",
                                                               FormatDuration(timings.start_timeout))));
        }
        continue;  // no report before every worker is ready
      }
      stage = Stage::kRunning;
      force_report = true;
    }

    if (stage == Stage::kClosing && (summary.phase == v1::RUN_PHASE_CLOSED || now > close_deadline)) {
      if (summary.phase != v1::RUN_PHASE_CLOSED) {
        LOG_WARNING("run %s: workers did not report closed within %s; ending them", run_id,
                    FormatDuration(timings.close_timeout));
      }
      // Ending the workers closes whatever they still held, so CLOSED is true
      // of the final report either way.
      session.Terminate(timings.terminate_grace);
      v1::RunReport report = session.BuildReport();
      report.set_phase(v1::RUN_PHASE_CLOSED);
      report.set_open(0);
      report.set_in_flight(0);
      if (!stream->Write(report)) {
        return RunEnd{absl::CancelledError("the coordinator's stream broke before the final report"), true};
      }
      return RunEnd{absl::OkStatus(), false};
    }

    // Reports every interval, and at once when the phase or echo progress
    // moves so the coordinator's barrier does not wait for the interval.
    if (force_report || !(summary == last_sent) || now >= next_report) {
      v1::RunReport report = session.BuildReport();
      metrics_.Update(report);
      if (!stream->Write(report)) {
        return abandon(absl::CancelledError("the coordinator's stream broke"));
      }
      last_sent = PhaseSummary{report.phase(), report.echo_rounds_done()};
      next_report = now + interval;
    }
  }
}

}  // namespace fourtuple::agent
