#include "coordinator/agent_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace fourtuple::coordinator {

void Notifier::Notify() {
  absl::MutexLock lock(&mu_);
  ++generation_;
  changed_.SignalAll();
}

uint64_t Notifier::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void Notifier::WaitForChange(uint64_t seen, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  while (generation_ == seen) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return;  // timed out
  }
}

AgentSession::AgentSession(std::string endpoint, std::shared_ptr<grpc::ChannelCredentials> credentials,
                           Notifier* notifier)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), notifier_(notifier) {}

AgentSession::~AgentSession() {
  Cancel();
  Join();
}

void AgentSession::Start(const v1::Assignment& assignment, absl::Duration probe_timeout) {
  thread_ = std::thread([this, assignment, probe_timeout] { Body(assignment, probe_timeout); });
}

void AgentSession::Body(v1::Assignment assignment, absl::Duration probe_timeout) {
  grpc::ChannelArguments args;
  // Reports carry per-source counts for up to 4096 addresses and two
  // histograms: well under the default 4 MiB, but a hostile or buggy agent
  // must not be able to make us allocate without bound either.
  args.SetMaxReceiveMessageSize(16 << 20);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(endpoint_, credentials_, args);
  std::unique_ptr<v1::Agent::Stub> stub = v1::Agent::NewStub(channel);

  // A fail-fast probe: an agent that is down answers UNAVAILABLE at once
  // instead of the Run stream waiting for it.
  {
    grpc::ClientContext probe_context;
    probe_context.set_deadline(absl::ToChronoTime(absl::Now() + probe_timeout));
    v1::HostFacts facts;
    grpc::Status status = stub->Probe(&probe_context, v1::ProbeRequest(), &facts);
    if (!status.ok()) {
      End(FromGrpcStatus(status));
      return;
    }
    absl::MutexLock lock(&mu_);
    state_.facts = std::move(facts);
    state_.reached = true;
    if (cancelled_) {
      state_.stage = Stage::kEnded;
      state_.end_status = absl::CancelledError("cancelled before the run started");
      notifier_->Notify();
      return;
    }
  }

  std::unique_ptr<grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>> stream = stub->Run(&context_);
  {
    absl::MutexLock lock(&write_mu_);
    writable_ = true;
  }
  v1::RunCommand first;
  *first.mutable_assignment() = std::move(assignment);
  writer_ = std::thread([this, writer = stream.get(), first = std::move(first)]() mutable {
    WriteLoop(writer, std::move(first));
  });
  {
    absl::MutexLock lock(&mu_);
    state_.stage = Stage::kStreaming;
  }
  notifier_->Notify();

  v1::RunReport report;
  while (stream->Read(&report)) {
    {
      absl::MutexLock lock(&mu_);
      state_.report.Swap(&report);
      state_.has_report = true;
      ++state_.reports;
      state_.last_report_time = absl::Now();
    }
    notifier_->Notify();
  }
  // Reads are over, so is the call: a write in flight fails with it. Once
  // the writer thread is gone, Finish may run.
  {
    absl::MutexLock lock(&write_mu_);
    writable_ = false;
    writer_stop_ = true;
    queue_.clear();
    write_wake_.Signal();
  }
  writer_.join();
  End(FromGrpcStatus(stream->Finish()));
}

void AgentSession::WriteLoop(grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>* stream,
                             v1::RunCommand command) {
  while (stream->Write(command)) {
    {
      absl::MutexLock lock(&write_mu_);
      while (queue_.empty() && !writes_done_ && !writer_stop_) write_wake_.Wait(&write_mu_);
      if (writer_stop_) return;
      if (!queue_.empty()) {
        command = std::move(queue_.front());
        queue_.pop_front();
        continue;
      }
    }
    // Asked to half-close and nothing is left to write.
    stream->WritesDone();
    return;
  }
  // The stream broke: its reads end too, and Snapshot shows how.
  absl::MutexLock lock(&write_mu_);
  writable_ = false;
  queue_.clear();
}

void AgentSession::End(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    state_.stage = Stage::kEnded;
    // The call's own status says only "cancelled" when we ended it.
    state_.end_status = abandoned_.ok() ? std::move(status) : abandoned_;
  }
  notifier_->Notify();
}

bool AgentSession::Send(const v1::RunCommand& command) {
  {
    absl::MutexLock lock(&write_mu_);
    if (!writable_ || writes_done_) return false;
    // Whatever waits reaches the agent first and renews its lease as well.
    if (command.has_heartbeat() && !queue_.empty()) return true;
    if (queue_.size() < kMaxQueuedCommands) {
      queue_.push_back(command);
      write_wake_.Signal();
      return true;
    }
    writable_ = false;
    queue_.clear();
  }
  const std::string why = absl::StrCat("the agent took none of the last ", kMaxQueuedCommands,
                                       " commands: stopped reading its stream");
  LOG_ERROR("agent %s: %s; ending its call", endpoint_, why);
  {
    absl::MutexLock lock(&mu_);
    if (abandoned_.ok()) abandoned_ = absl::DeadlineExceededError(why);
  }
  Cancel();
  return false;
}

void AgentSession::WritesDone() {
  absl::MutexLock lock(&write_mu_);
  if (!writable_ || writes_done_) return;
  writes_done_ = true;
  write_wake_.Signal();
}

void AgentSession::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  context_.TryCancel();
}

void AgentSession::Join() {
  if (thread_.joinable()) thread_.join();
}

AgentSession::Snapshot AgentSession::snapshot() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

}  // namespace fourtuple::coordinator
