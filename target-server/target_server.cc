#include "target-server/target_server.h"

#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/grpc_front.h"
#include "common/host_facts.h"
#include "common/logging.h"
#include "common/metrics_http.h"
#include "common/posix_error.h"
#include "common/ready_file.h"
#include "common/status_macros.h"
#include "common/worker_pool.h"
#include "nlohmann/json.hpp"
#include "target-server/control_service.h"
#include "target-server/counters.h"
#include "target-server/echo_worker.h"
#include "target-server/listener.h"
#include "target-server/target_metrics.h"

namespace fourtuple::target_server {
namespace {

constexpr absl::Duration kWorkerStartTimeout = absl::Seconds(10);
// Closing ~20,000 connections takes a worker well under a second.
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);
// How often the parent looks for dead workers when nothing else wakes it.
constexpr absl::Duration kReapInterval = absl::Seconds(1);
constexpr absl::string_view kReadyMessage = "ready";

sigset_t StopSignals(bool with_sigchld) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (with_sigchld) sigaddset(&set, SIGCHLD);
  return set;
}

// One line on stdout with a single write(2), so a reader never sees half.
void WriteStdoutLine(absl::string_view text) {
  std::string line = absl::StrCat(text, "\n");
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stdout closed: the counters still reach GetStats
    done += static_cast<size_t>(n);
  }
}

void SendToParent(int control_fd, absl::string_view message) {
  ssize_t ignored = send(control_fd, message.data(), message.size(), MSG_NOSIGNAL);
  (void)ignored;
}

// The body of a worker process. SIGTERM/SIGINT arrive blocked (the parent
// blocked them before forking) and are read from a signalfd in the loop.
int RunWorker(WorkerContext& context, const std::vector<int>& listener_fds, int kick_fd,
              uint64_t max_connections, TlsServer* tls, bool websocket) {
  sigset_t stop = StopSignals(/*with_sigchld=*/false);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int signal_fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) {
    SendToParent(context.control_fd, absl::StrCat("signalfd: ", PosixError("", errno).message()));
    return 1;
  }
  EchoWorkerOptions options;
  options.max_connections = max_connections;
  options.tls = tls;
  options.websocket = websocket;
  auto* counters = static_cast<WorkerCounters*>(context.shared);
  absl::StatusOr<std::unique_ptr<EchoWorker>> worker =
      EchoWorker::Create(listener_fds, kick_fd, counters, options);
  absl::Status status = worker.status();
  if (status.ok()) status = (*worker)->AddStopFd(signal_fd);
  // The parent never writes: readable means EOF, the parent is gone.
  if (status.ok()) status = (*worker)->AddStopFd(context.control_fd);
  if (!status.ok()) {
    SendToParent(context.control_fd, status.ToString());
    return 1;
  }
  SendToParent(context.control_fd, kReadyMessage);
  status = (*worker)->Run();
  // Stopping: the listening sockets go first, so a client reconnecting
  // during the shutdown is refused at once rather than queued on a
  // listener about to vanish (a restart on the same ports then takes it).
  for (int listener_fd : listener_fds) close(listener_fd);
  (*worker)->CloseAll();
  if (!status.ok()) {
    LOG_ERROR("worker %d: %s", context.index, status.ToString());
    return 1;
  }
  return 0;
}

// Waits for every worker's first message: "ready" or why it failed.
absl::Status WaitForWorkers(WorkerPool& pool) {
  const absl::Time deadline = absl::Now() + kWorkerStartTimeout;
  for (int i = 0; i < pool.count(); ++i) {
    pollfd poll_fd{pool.control_fd(i), POLLIN, 0};
    int ready;
    do {
      int wait_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      ready = poll(&poll_fd, 1, wait_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("worker ", i, " did not start within ", absl::FormatDuration(kWorkerStartTimeout)));
    }
    char message[512];
    ssize_t n = recv(pool.control_fd(i), message, sizeof(message), 0);
    if (n <= 0) return absl::InternalError(absl::StrCat("worker ", i, " exited while starting"));
    absl::string_view text(message, static_cast<size_t>(n));
    if (text != kReadyMessage) {
      return absl::InternalError(absl::StrCat("worker ", i, " failed to start: ", text));
    }
  }
  return absl::OkStatus();
}

std::string ReadyFileContents(const std::vector<std::string>& listen,
                              const std::optional<std::string>& control,
                              const std::optional<std::string>& metrics) {
  nlohmann::ordered_json ready;
  ready["listen"] = listen;
  if (control.has_value()) ready["control"] = *control;
  if (metrics.has_value()) ready["metrics"] = *metrics;
  return ready.dump() + "\n";
}

// The parent after the workers started: stats lines, dead workers, until a
// stop signal. Returns the error that ends the server early.
absl::Status Supervise(WorkerPool& pool, CounterSet& counters, absl::Duration stats_interval) {
  const sigset_t signals = StopSignals(/*with_sigchld=*/true);
  absl::Time next_stats = absl::Now() + stats_interval;
  for (;;) {
    absl::Duration wait = kReapInterval;
    if (stats_interval > absl::ZeroDuration()) {
      wait = std::clamp(next_stats - absl::Now(), absl::ZeroDuration(), kReapInterval);
    }
    timespec timeout = absl::ToTimespec(wait);
    int signal_number = sigtimedwait(&signals, nullptr, &timeout);
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      LOG_INFO("SIG%s: stopping", sigabbrev_np(signal_number));
      return absl::OkStatus();
    }
    for (const WorkerPool::Exit& exit : pool.Reap()) {
      counters.MarkDead(exit.index);
      LOG_ERROR("%s; the kernel closed its connections, the other workers go on", exit.Describe());
    }
    if (pool.alive_count() == 0) return absl::InternalError("every worker process has exited");
    if (stats_interval > absl::ZeroDuration()) {
      absl::Time now = absl::Now();
      if (now >= next_stats) {
        WriteStdoutLine(StatsLine(counters.Total(), now));
        next_stats += stats_interval;
        if (next_stats <= now) next_stats = now + stats_interval;  // fell behind: skip
      }
    }
  }
}

}  // namespace

absl::Status RunTargetServer(const TargetServerOptions& options) {
  const absl::Time start = absl::Now();
  // Blocked before fork and before gRPC starts threads: the workers read them
  // from a signalfd, the parent with sigtimedwait, no thread is interrupted.
  const sigset_t signals = StopSignals(/*with_sigchld=*/true);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ASSIGN_OR_RETURN(uint64_t fd_limit, RaiseFdLimit());
  // The reserve covers a worker's own descriptors (stdio, epoll, signalfd,
  // control socket, ...); the listeners come on top of it.
  const uint64_t budget = FdBudgetPerProcess(fd_limit);
  const uint64_t max_connections = budget > options.listen.size() ? budget - options.listen.size() : 0;
  if (max_connections == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("RLIMIT_NOFILE is ", fd_limit, ": no room for connections (raise ulimit -n)"));
  }

  ListenerOptions listener_options;
  listener_options.backlog = options.backlog;
  listener_options.rcvbuf = options.rcvbuf;
  listener_options.sndbuf = options.sndbuf;
  absl::StatusOr<std::vector<Listener>> opened = OpenListeners(options.listen, listener_options);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(), absl::StrCat("--listen ", opened.status().message()));
  }
  std::vector<Listener> listeners = *std::move(opened);
  std::vector<int> listener_fds;
  std::vector<std::string> listen_names;
  for (const Listener& listener : listeners) {
    listener_fds.push_back(listener.fd);
    listen_names.push_back(listener.bound.ToString());
  }

  int kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (kick_fd < 0) {
    CloseListeners(listeners);
    return PosixError("eventfd", errno);
  }

  // One TLS context for every worker, made before the fork: its session
  // ticket keys are the same in each, so a ticket from one worker resumes on
  // any other.
  std::unique_ptr<TlsServer> tls;
  if (!options.listen_tls_cert_pem.empty()) {
    absl::StatusOr<std::unique_ptr<TlsServer>> created =
        TlsServer::Create(options.listen_tls_cert_pem, options.listen_tls_key_pem);
    if (!created.ok()) {
      CloseListeners(listeners);
      close(kick_fd);
      return created.status();
    }
    tls = *std::move(created);
  }

  // Fork before any gRPC object (and so any thread) exists.
  absl::StatusOr<std::unique_ptr<WorkerPool>> forked =
      WorkerPool::Fork(options.processes, sizeof(WorkerCounters), [&](WorkerContext& context) {
        return RunWorker(context, listener_fds, kick_fd, max_connections, tls.get(),
                         options.listen_websocket);
      });
  if (!forked.ok()) {
    CloseListeners(listeners);
    close(kick_fd);
    return forked.status();
  }
  std::unique_ptr<WorkerPool> pool = *std::move(forked);
  std::vector<const WorkerCounters*> blocks;
  for (int i = 0; i < pool->count(); ++i) {
    blocks.push_back(static_cast<const WorkerCounters*>(pool->shared(i)));
  }
  CounterSet counters(std::move(blocks));

  // From here on every early return destroys the pool, which terminates the
  // workers.
  auto cleanup = [&] {
    CloseListeners(listeners);
    close(kick_fd);
  };
  if (absl::Status status = WaitForWorkers(*pool); !status.ok()) {
    cleanup();
    return status;
  }
  LOG_INFO("accepting on %s%s%s; worker processes: %d, up to %d connections each",
           absl::StrJoin(listen_names, ","), options.listen_tls_cert_pem.empty() ? "" : " (TLS)",
           options.listen_websocket ? " (WebSocket)" : "", pool->count(), max_connections);

  TargetControlService service(&counters, listen_names, start, options.auth);
  std::unique_ptr<grpc::Server> server;
  std::optional<std::string> control_name;
  if (options.control.has_value()) {
    grpc::ServerBuilder builder;
    // gRPC sets SO_REUSEPORT by default, which would let it share a port
    // another server already holds instead of failing.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    ApplyFrontLimits(builder);
    int port = 0;
    builder.AddListeningPort(options.control->ToString(), options.auth.credentials, &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (server == nullptr || port == 0) {
      cleanup();
      return absl::UnavailableError(absl::StrCat("--control ", options.control->ToString(),
                                                 ": cannot listen (address in use or not local?)"));
    }
    if (absl::Status shed = ShedAcceptsWhenOutOfDescriptors(port); !shed.ok()) {
      server->Shutdown();
      cleanup();
      return absl::Status(shed.code(),
                          absl::StrCat("--control ", options.control->ToString(), ": ", shed.message()));
    }
    Endpoint bound = *options.control;
    bound.port = static_cast<uint16_t>(port);
    control_name = bound.ToString();
    LOG_INFO("TargetControl on %s (authentication %s)", *control_name, options.auth.Describe());
  }

  // Like gRPC, civetweb starts threads: only now, after the fork.
  std::unique_ptr<MetricsHttpServer> metrics;
  std::optional<std::string> metrics_name;
  if (options.metrics.has_value()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started = MetricsHttpServer::Start(
        *options.metrics, [&counters, start] { return RenderTargetMetrics(counters, start, absl::Now()); });
    if (!started.ok()) {
      if (server) server->Shutdown();
      cleanup();
      return absl::Status(started.status().code(), absl::StrCat("--metrics ", started.status().message()));
    }
    metrics = *std::move(started);
    metrics_name = metrics->bound().ToString();
    LOG_INFO("Prometheus metrics on http://%s/metrics", *metrics_name);
  }

  if (!options.ready_file.empty()) {
    absl::Status status =
        WriteFileAtomically(options.ready_file, ReadyFileContents(listen_names, control_name, metrics_name));
    if (!status.ok()) {
      if (server) server->Shutdown();
      cleanup();
      return absl::Status(status.code(), absl::StrCat("--ready-file: ", status.message()));
    }
  }

  absl::Status status = Supervise(*pool, counters, options.stats_interval);

  metrics.reset();            // its render callback reads `counters`
  CloseListeners(listeners);  // before the workers close their connections (RunWorker)
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  for (const WorkerPool::Exit& exit : pool->Terminate(kShutdownGrace)) {
    if (!WIFEXITED(exit.wait_status) || WEXITSTATUS(exit.wait_status) != 0) {
      LOG_WARNING("%s", exit.Describe());
    }
  }
  for (int i = 0; i < counters.size(); ++i) counters.MarkDead(i);
  cleanup();
  WriteStdoutLine(StatsLine(counters.Total(), absl::Now(), /*final=*/true));
  return status;
}

}  // namespace fourtuple::target_server
