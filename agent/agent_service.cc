#include "agent/agent_service.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/assignment_validation.h"
#include "agent/return_path_probe.h"
#include "agent/worker_plan.h"
#include "common/grpc_status.h"
#include "common/host_facts.h"
#include "common/local_routes.h"
#include "common/logging.h"
#include "common/status_macros.h"

#ifndef FOURTUPLE_VERSION
#define FOURTUPLE_VERSION "unknown"
#endif

namespace fourtuple::agent {

// Commands from the reader thread to the handler thread.
struct AgentService::CommandChannel {
  absl::Mutex mu;
  std::deque<v1::RunCommand> queue ABSL_GUARDED_BY(mu);
  bool reader_done ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;  // the stream broke (not a half-close)
  absl::Time last_command ABSL_GUARDED_BY(mu);

  bool HasNews() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !queue.empty() || reader_done; }

  // Waits up to `timeout` for a command or the end of the stream, then takes
  // what arrived.
  StreamInput Take(absl::Duration timeout) {
    StreamInput input;
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(this, &CommandChannel::HasNews), timeout);
    input.commands.swap(queue);
    input.last_command = last_command;
    input.ended = reader_done;
    input.broke = cancelled;
    return input;
  }
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
  for (const std::string& route : facts.local_routes) out->add_local_routes(route);
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
  policy.local_routes = ParseLocalRoutes(facts->local_routes);
  ASSIGN_OR_RETURN(ValidatedAssignment validated, ValidateAssignment(assignment, policy));
  // A prefix the target cannot answer: said once, before any worker starts.
  RETURN_IF_ERROR(ProbeReturnPaths(
      validated,
      std::min(absl::Milliseconds(static_cast<int64_t>(assignment.connect_timeout_ms())), absl::Seconds(3))));

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
  // Each open stream holds a handler thread: their number is bounded.
  struct StreamCount {
    std::atomic<int>& open;
    ~StreamCount() { open.fetch_sub(1); }
  } count{open_run_streams_};
  if (open_run_streams_.fetch_add(1) >= config_.max_run_streams) {
    return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
        "agent has ", config_.max_run_streams,
        " Run streams open, its limit (one run at a time; a stream must send its assignment within ",
        absl::FormatDuration(config_.timings.assignment_timeout), ")")));
  }
  {
    absl::MutexLock lock(&mu_);
    if (!active_run_.empty()) return ToGrpcStatus(Busy(active_run_));
  }
  v1::RunCommand first;
  const uint64_t watch = first_message_.Watch(context, absl::Now() + config_.timings.assignment_timeout);
  const bool received = stream->Read(&first);
  if (first_message_.Unwatch(watch)) {
    return ToGrpcStatus(absl::DeadlineExceededError(
        absl::StrCat("no assignment within ", absl::FormatDuration(config_.timings.assignment_timeout),
                     " of the Run stream opening")));
  }
  if (!received) return ToGrpcStatus(absl::CancelledError("the stream ended before the assignment"));
  const absl::Time started = absl::Now();
  if (!first.has_assignment()) {
    return ToGrpcStatus(absl::InvalidArgumentError("the first command of a run must carry the assignment"));
  }
  absl::StatusOr<RunSession::Config> run = PrepareRun(first.assignment(), started);
  if (!run.ok()) {
    LOG_WARNING("refused run %s: %s", RunIdForLog(first.assignment().run_id()), run.status().ToString());
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
  RunEnd end = DriveRun(stream, channel, **session, started);
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

RunEnd AgentService::DriveRun(Stream* stream, CommandChannel& channel, RunSession& session,
                              absl::Time started) {
  // Reports go to the stream; only this thread writes to it.
  class StreamReports final : public ReportSink {
   public:
    explicit StreamReports(Stream* stream) : stream_(stream) {}
    bool Write(const v1::RunReport& report) override { return stream_->Write(report); }

   private:
    Stream* stream_;
  } reports(stream);
  RunLoop loop(RunLoop::ConfigFor(session.assignment(), config_.timings, started, &metrics_), session,
               reports, absl::Now());
  while (true) {
    StreamInput input = channel.Take(config_.timings.poll);
    if (std::optional<RunEnd> end = loop.Step(absl::Now(), std::move(input), shutting_down_.load())) {
      return *std::move(end);
    }
  }
}

}  // namespace fourtuple::agent
