#include "agent/agent_server.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/agent_service.h"
#include "common/grpc_front.h"
#include "common/logging.h"
#include "common/metrics_http.h"
#include "common/posix_error.h"
#include "common/ready_file.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace fourtuple::agent {
namespace {

// Written by the signal handler (async-signal-safe write), read by RunAgent.
int g_signal_pipe_write = -1;

void OnStopSignal(int signal_number) {
  int saved_errno = errno;
  char byte = static_cast<char>(signal_number);
  ssize_t ignored = write(g_signal_pipe_write, &byte, 1);
  (void)ignored;
  errno = saved_errno;
}

// A pipe the stop signals write to. Signals are caught, not blocked: exec'd
// workers inherit the signal mask, and they must still die on SIGTERM.
absl::StatusOr<int> InstallStopSignals() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return PosixError("pipe2", errno);
  g_signal_pipe_write = fds[1];
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGTERM, &action, nullptr) != 0) return PosixError("sigaction(SIGTERM)", errno);
  if (sigaction(SIGINT, &action, nullptr) != 0) return PosixError("sigaction(SIGINT)", errno);
  // A worker's control socket may close under a send: an error, not a death.
  signal(SIGPIPE, SIG_IGN);
  return fds[0];
}

int WaitForStopSignal(int read_fd) {
  char byte = 0;
  while (true) {
    ssize_t n = read(read_fd, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return 0;  // cannot happen while the write end is open; stop anyway
  }
}

}  // namespace

absl::StatusOr<std::string> ResolveWorkerBinary(const std::string& flag_value) {
  std::string path = flag_value;
  if (path.empty()) {
    char buffer[4096];
    ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
    if (n < 0) return PosixError("--worker-binary: readlink /proc/self/exe", errno);
    path.assign(buffer, static_cast<size_t>(n));
    // Rebuilt since start: the new worker next to the new agent.
    constexpr absl::string_view kDeleted = " (deleted)";
    if (absl::EndsWith(path, kDeleted)) path.resize(path.size() - kDeleted.size());
    path += "-worker";
  }
  struct stat file = {};
  const char* problem = stat(path.c_str(), &file) != 0    ? std::strerror(errno)
                        : !S_ISREG(file.st_mode)          ? "not a regular file"
                        : access(path.c_str(), X_OK) != 0 ? std::strerror(errno)
                                                          : nullptr;
  if (problem != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--worker-binary: ", path, " is not an executable file (", problem,
        "); every worker runs it: install agent-worker next to the agent as <agent path>-worker, "
        "or name it with --worker-binary=PATH"));
  }
  return path;
}

absl::Status RunAgent(const AgentOptions& options) {
  ASSIGN_OR_RETURN(int signal_fd, InstallStopSignals());

  AgentService::Config config;
  config.options = options;
  config.worker_argv = {options.worker_binary};
  config.timings.assignment_timeout = options.assignment_timeout;
  if (options.source_ports == SourcePorts::kAgent) config.worker_argv.push_back(kAgentSourcePortsArg);
  AgentService service(std::move(config));

  const std::string listen = options.listen.ToString();
  int port = 0;
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second agent on the same port would
  // bind fine and take half the calls. A taken port must be an error.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  ApplyFrontLimits(builder);
  builder.AddListeningPort(listen, options.auth.credentials, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("--listen=", listen, ": cannot listen there (address in use or not local?)"));
  }
  if (absl::Status shed = ShedAcceptsWhenOutOfDescriptors(port); !shed.ok()) {
    server->Shutdown();
    return absl::Status(shed.code(), absl::StrCat("--listen=", listen, ": ", shed.message()));
  }
  Endpoint bound = options.listen;
  bound.port = static_cast<uint16_t>(port);
  LOG_INFO("serving fourtuple.v1.Agent on %s (processes %s, allow-targets %s, authentication %s)",
           bound.ToString(), options.processes == 0 ? "auto" : absl::StrCat(options.processes),
           options.allow_targets_text, options.auth.Describe());
  std::unique_ptr<MetricsHttpServer> metrics;
  if (options.metrics.has_value()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
        MetricsHttpServer::Start(*options.metrics, [&service] { return service.RenderMetrics(); });
    if (!started.ok()) {
      server->Shutdown();
      return absl::Status(started.status().code(), absl::StrCat("--metrics: ", started.status().message()));
    }
    metrics = *std::move(started);
    LOG_INFO("Prometheus metrics on http://%s/metrics", metrics->bound().ToString());
  }
  if (!options.ready_file.empty()) {
    nlohmann::json ready = {{"listen", nlohmann::json::array({bound.ToString()})}};
    if (metrics != nullptr) ready["metrics"] = metrics->bound().ToString();
    absl::Status written = WriteFileAtomically(options.ready_file, ready.dump());
    if (!written.ok()) {
      server->Shutdown();
      return absl::Status(written.code(), absl::StrCat("--ready-file: ", written.message()));
    }
  }

  int signal_number = WaitForStopSignal(signal_fd);
  LOG_INFO("%s: ending any run and shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  service.BeginShutdown();
  // The run handler ends its workers within a poll period plus their
  // terminate grace. Then every call left (a Probe, a stream that never sent
  // its assignment, a cancelled run the client has not finished) is
  // cancelled at once: with any deadline, gRPC 1.51 waits all of it out.
  if (!service.WaitUntilNoRun(absl::Seconds(30))) {
    LOG_WARNING("the active run did not end within 30s; shutting down anyway");
  }
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  metrics.reset();  // its callback reads `service`
  close(signal_fd);
  LOG_INFO("stopped");
  return absl::OkStatus();
}

}  // namespace fourtuple::agent
