// RunAgentWorker: the connection engine's loop plus the control socket.
// Commands arrive as serialized v1::WorkerCommand, one per SOCK_SEQPACKET
// message; SIGTERM/SIGINT arrive through a signalfd, so the loop never runs
// a signal handler and sees both as ordinary readable fds.
#include "agent/worker/worker_process.h"

#include <signal.h>
#include <sys/poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/worker/connection_engine.h"
#include "agent/worker/worker_protocol.h"
#include "common/logging.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {
namespace {

constexpr int kControlTag = 0;
constexpr int kSignalTag = 1;

enum class ControlState { kOpen, kEnded };

// The worker's lease on its front (worker_protocol.h): 0 until started.
struct FrontLease {
  uint64_t lease_us = 0;
  uint64_t beats = 0;        // front_beats when last seen to move
  uint64_t beats_at_us = 0;  // engine time it was seen to move
  bool watching = false;     // beats and beats_at_us hold a sample
};

// Applies one command; a refused command becomes the worker's error.
void Apply(const v1::WorkerCommand& command, ConnectionEngine& engine, FrontLease& lease) {
  absl::Status status;
  switch (command.command_case()) {
    case v1::WorkerCommand::kStart:
      status = engine.Start(command.start());
      if (status.ok()) lease.lease_us = uint64_t{command.start().assignment().lease_ms()} * 1000;
      break;
    case v1::WorkerCommand::kConnect:
      status = engine.BeginConnect();
      break;
    case v1::WorkerCommand::kEcho:
      status = engine.BeginEcho(command.echo().round());
      break;
    case v1::WorkerCommand::kClose:
      engine.CloseAll();
      break;
    case v1::WorkerCommand::COMMAND_NOT_SET:
      status = absl::InvalidArgumentError("empty command");
      break;
  }
  if (!status.ok()) engine.Fail(status.ToString());
}

// Reads every message waiting on the control socket. kEnded when the front
// closed it (or it broke: the front is gone either way).
ControlState ReadCommands(int control_fd, ConnectionEngine& engine, std::string& buffer, FrontLease& lease) {
  for (;;) {
    // A message's real size first (MSG_TRUNC on SEQPACKET), so an assignment
    // with thousands of addresses is never cut short.
    ssize_t size = recv(control_fd, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (size < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return ControlState::kOpen;
      LOG_WARNING("control socket: %s", std::strerror(errno));
      return ControlState::kEnded;
    }
    if (size == 0) return ControlState::kEnded;  // commands are never empty: end of file
    buffer.resize(static_cast<size_t>(size));
    ssize_t got = recv(control_fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got != size) {
      if (got < 0 && errno == EINTR) continue;
      LOG_WARNING("control socket: short read (%d of %d bytes)", got, size);
      return ControlState::kEnded;
    }
    v1::WorkerCommand command;
    if (!command.ParseFromString(buffer)) {
      engine.Fail(absl::StrCat("unparseable command (", size, " bytes)"));
      continue;
    }
    Apply(command, engine, lease);
  }
}

// After the loop itself broke: keep the error visible until the front ends
// the run or a signal comes.
void WaitForEnd(int control_fd, int signal_fd) {
  pollfd fds[2] = {{control_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
  char discard[4096];
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (fds[0].revents) {
      ssize_t n = recv(control_fd, discard, sizeof discard, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
  }
}

// Whether the front has been silent past the lease; one relaxed load and a
// clock read per loop turn.
bool FrontSilent(const AgentWorkerShared& shared, const ConnectionEngine& engine, FrontLease& lease) {
  if (lease.lease_us == 0) return false;
  const uint64_t beats = shared.front_beats.load(std::memory_order_relaxed);
  const uint64_t now = engine.NowMicros();
  if (beats != lease.beats || !lease.watching) {
    lease.beats = beats;
    lease.beats_at_us = now;
    lease.watching = true;
    return false;
  }
  return now - lease.beats_at_us > lease.lease_us;
}

void WriteError(AgentWorkerShared& shared, absl::string_view message) {
  size_t n = std::min(message.size(), sizeof shared.error - 1);
  std::memcpy(shared.error, message.data(), n);
  shared.error[n] = '\0';
  shared.error_set.store(1, std::memory_order_release);
  shared.phase.store(static_cast<uint32_t>(WorkerPhase::kFailed), std::memory_order_release);
}

}  // namespace

int RunAgentWorker(WorkerContext& context, SourcePorts source_ports) {
  if (context.shared == nullptr || context.shared_bytes < sizeof(AgentWorkerShared)) {
    LOG_ERROR("agent worker %d: shared block of %d bytes, need %d", context.index, context.shared_bytes,
              sizeof(AgentWorkerShared));
    return 1;
  }
  auto& shared = *static_cast<AgentWorkerShared*>(context.shared);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  int signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    WriteError(shared, absl::StrCat("signalfd: ", std::strerror(errno)));
    return 1;
  }

  absl::StatusOr<std::unique_ptr<ConnectionEngine>> created =
      ConnectionEngine::Create(&shared, source_ports, nullptr, context.shared_bytes);
  if (!created.ok()) {
    WriteError(shared, created.status().ToString());
    close(signal_fd);
    return 1;
  }
  std::unique_ptr<ConnectionEngine> engine = *std::move(created);
  for (absl::Status status : {engine->WatchExternal(context.control_fd, kControlTag),
                              engine->WatchExternal(signal_fd, kSignalTag)}) {
    if (!status.ok()) {
      WriteError(shared, status.ToString());
      close(signal_fd);
      return 1;
    }
  }

  std::string buffer;
  FrontLease lease;
  int exit_code = 0;
  for (;;) {
    // Once started, the loop wakes at least every quarter lease (at most
    // every 250 ms) to check the front, even when no socket has news.
    const int wait_ms =
        lease.lease_us == 0 ? -1 : static_cast<int>(std::clamp<uint64_t>(lease.lease_us / 4000, 1, 250));
    absl::StatusOr<uint32_t> ready = engine->RunOnce(wait_ms);
    if (!ready.ok()) {
      engine->Fail(ready.status().ToString());
      WaitForEnd(context.control_fd, signal_fd);
      exit_code = 1;
      break;
    }
    if (*ready & (1u << kSignalTag)) {
      signalfd_siginfo info;
      ssize_t n = read(signal_fd, &info, sizeof info);
      LOG_INFO("agent worker %d: %s, closing every connection", context.index,
               n == sizeof info ? strsignal(static_cast<int>(info.ssi_signo)) : "signal");
      break;
    }
    if ((*ready & (1u << kControlTag)) &&
        ReadCommands(context.control_fd, *engine, buffer, lease) == ControlState::kEnded) {
      break;
    }
    if (FrontSilent(shared, *engine, lease)) {
      // The front is stopped or hung with the control socket still open: no
      // one will end this run, so the worker does.
      engine->Fail(absl::StrCat("the agent front was silent for ",
                                (engine->NowMicros() - lease.beats_at_us) / 1000, " ms (lease ",
                                lease.lease_us / 1000, " ms): closed every connection"));
      break;
    }
  }
  bool failed = engine->phase() == WorkerPhase::kFailed;
  engine->CloseAll();
  engine.reset();
  close(signal_fd);
  return failed ? 1 : exit_code;
}

}  // namespace fourtuple::agent
