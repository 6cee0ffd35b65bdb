#include "coordinator/agent_session.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "coordinator/fan_out.h"

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

void AgentSession::Start(const v1::Assignment& assignment, absl::Duration probe_timeout, FanOut* fan_out,
                         const v1::HostFacts* known_facts) {
  started_ = true;
  fan_out_ = fan_out;
  grpc::ChannelArguments args;
  // Reports carry per-source counts for up to 4096 addresses and two
  // histograms: well under the default 4 MiB, but a hostile or buggy agent
  // must not be able to make us allocate without bound either.
  args.SetMaxReceiveMessageSize(16 << 20);
  // A report a second needs neither bandwidth probing nor large reads:
  // without these each of a thousand streams grows buffers it never fills.
  // Each connection keeps one read posted with a buffer of the chunk size:
  // at 64 KiB that was 64 MiB of the coordinator's heap at 1,000 agents
  // (heaptrack); a larger report is read in several chunks.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_TCP_READ_CHUNK_SIZE, 4 << 10);
  args.SetInt(GRPC_ARG_TCP_MAX_READ_CHUNK_SIZE, 16 << 10);
  // What an agent may send ahead of our reading it: a few reports. A
  // coordinator that falls behind (a laptop busy elsewhere) then slows the
  // agents' report writes instead of buffering up to 64 KiB per agent.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  channel_ = grpc::CreateCustomChannel(endpoint_, credentials_, args);
  stub_ = v1::Agent::NewStub(channel_);
  {
    absl::MutexLock lock(&write_mu_);
    v1::RunCommand first;
    *first.mutable_assignment() = assignment;
    queue_.push_back(std::move(first));
  }
  // A fail-fast probe: an agent that is down answers UNAVAILABLE at once
  // instead of the Run stream waiting for it. The deadline counts from the
  // probe's own start, not from a wait for a fan-out slot.
  std::function<void()> probe = [this, probe_timeout] {
    probe_context_.set_deadline(absl::ToChronoTime(absl::Now() + probe_timeout));
    stub_->async()->Probe(&probe_context_, &probe_request_, &probe_facts_,
                          [this](grpc::Status status) { OnProbeDone(status); });
  };
  if (known_facts != nullptr) {
    probe_facts_ = *known_facts;
    probe = [this] { OnProbeDone(grpc::Status::OK); };
  }
  if (fan_out_ == nullptr) {
    probe();
  } else {
    fan_out_->Submit(std::move(probe));
  }
}

void AgentSession::OnProbeDone(const grpc::Status& status) {
  if (!status.ok()) {
    End(FromGrpcStatus(status));
    return;
  }
  bool cancelled = false;
  {
    absl::MutexLock lock(&mu_);
    state_.facts = std::move(probe_facts_);
    state_.reached = true;
    cancelled = cancelled_;
    if (!cancelled) state_.stage = Stage::kStreaming;
    Changed();
  }
  if (cancelled) {
    End(absl::CancelledError("cancelled before the run started"));
    return;
  }
  OpenRunCall();
}

void AgentSession::OpenRunCall() {
  // A Cancel from here on cancels context_, so the call starts cancelled.
  stub_->async()->Run(&context_, this);
  StartRead(&incoming_);
  StartCall();
  {
    absl::MutexLock lock(&write_mu_);
    writable_ = true;
  }
  PumpWrites();  // the assignment
  notifier_->Notify();
}

void AgentSession::PumpWrites() {
  bool half_close = false;
  {
    absl::MutexLock lock(&write_mu_);
    if (write_busy_ || !writable_) return;
    if (!queue_.empty()) {
      writing_ = std::move(queue_.front());
      queue_.pop_front();
    } else if (writes_done_ && !half_closed_) {
      half_closed_ = half_close = true;
    } else {
      return;
    }
    write_busy_ = true;
  }
  // write_busy_ makes this thread the only one starting a write now.
  if (half_close) {
    StartWritesDone();
  } else {
    StartWrite(&writing_);
  }
}

void AgentSession::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&write_mu_);
    write_busy_ = false;
    if (!ok) {
      // The stream broke: its reads end too, and Snapshot shows how.
      writable_ = false;
      queue_.clear();
      return;
    }
  }
  // The assignment is on its way: the next agent may be probed and
  // assigned. Waiting for the agent's first report instead would hold each
  // slot while the agent starts its workers, which is the agents' time, not
  // a burst on the coordinator's side.
  ReleaseFanOut();
  PumpWrites();
}

void AgentSession::OnWritesDoneDone(bool /*ok*/) {
  absl::MutexLock lock(&write_mu_);
  write_busy_ = false;
}

void AgentSession::OnReadDone(bool ok) {
  if (!ok) {
    // Reads are over, so is the call: write no more. OnDone follows once
    // a write in flight has failed with it.
    absl::MutexLock lock(&write_mu_);
    writable_ = false;
    queue_.clear();
    return;
  }
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    state_.report.Swap(&incoming_);
    state_.has_report = true;
    first = ++state_.reports == 1;
    state_.last_report_time = absl::Now();
    Changed();
  }
  if (first) ReleaseFanOut();  // in case the write's completion comes later
  notifier_->Notify();
  StartRead(&incoming_);
}

void AgentSession::OnDone(const grpc::Status& status) { End(FromGrpcStatus(status)); }

void AgentSession::ReleaseFanOut() {
  if (fan_out_ != nullptr && !fan_out_released_.exchange(true)) fan_out_->Done();
}

void AgentSession::End(absl::Status status) {
  ReleaseFanOut();
  {
    absl::MutexLock lock(&mu_);
    state_.stage = Stage::kEnded;
    // The call's own status says only "cancelled" when we ended it.
    state_.end_status = abandoned_.ok() ? std::move(status) : abandoned_;
    Changed();
  }
  notifier_->Notify();
  // Last: Join may return now and the session be destroyed.
  ended_.DecrementCount();
}

void AgentSession::Changed() { version_.fetch_add(1, std::memory_order_release); }

bool AgentSession::Send(const v1::RunCommand& command) {
  bool abandon = false;
  {
    absl::MutexLock lock(&write_mu_);
    if (!writable_ || writes_done_) return false;
    // Whatever waits reaches the agent first and renews its lease as well.
    if (command.has_heartbeat() && !queue_.empty()) return true;
    if (queue_.size() >= kMaxQueuedCommands) {
      writable_ = false;
      queue_.clear();
      abandon = true;
    } else {
      queue_.push_back(command);
    }
  }
  if (!abandon) {
    PumpWrites();
    return true;
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
  {
    absl::MutexLock lock(&write_mu_);
    if (!writable_ || writes_done_) return;
    writes_done_ = true;
  }
  PumpWrites();
}

void AgentSession::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  probe_context_.TryCancel();
  context_.TryCancel();
}

void AgentSession::Join() {
  if (!started_ || joined_) return;
  ended_.Wait();
  joined_ = true;
}

AgentSession::Snapshot AgentSession::snapshot() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

AgentSession::Snapshot AgentSession::light_snapshot() {
  absl::MutexLock lock(&mu_);
  // The heavy parts step aside while the rest is copied, then go back:
  // pointer and map swaps, nothing copied or allocated for them.
  v1::RunReport& report = state_.report;
  v1::RunReport maps;
  auto swap_maps = [&maps, &report] {
    maps.mutable_established_by_source()->swap(*report.mutable_established_by_source());
    maps.mutable_failed_by_source()->swap(*report.mutable_failed_by_source());
    maps.mutable_tls_negotiated()->swap(*report.mutable_tls_negotiated());
    maps.mutable_tls_failure_details()->swap(*report.mutable_tls_failure_details());
  };
  swap_maps();
  v1::Histogram* connect_latency = report.has_connect_latency() ? report.release_connect_latency() : nullptr;
  v1::Histogram* echo_rtt = report.has_echo_rtt() ? report.release_echo_rtt() : nullptr;
  v1::Histogram* connect_queue = report.has_connect_queue() ? report.release_connect_queue() : nullptr;
  v1::Histogram* tls_handshake = report.has_tls_handshake() ? report.release_tls_handshake() : nullptr;
  Snapshot out = state_;
  if (connect_latency != nullptr) report.set_allocated_connect_latency(connect_latency);
  if (echo_rtt != nullptr) report.set_allocated_echo_rtt(echo_rtt);
  if (connect_queue != nullptr) report.set_allocated_connect_queue(connect_queue);
  if (tls_handshake != nullptr) report.set_allocated_tls_handshake(tls_handshake);
  swap_maps();
  return out;
}

}  // namespace fourtuple::coordinator
