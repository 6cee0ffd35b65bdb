// coordinator: the laptop CLI that drives agents through a run (see
// run_command.h for the exit codes and cli.h for the commands).
#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "coordinator/cli.h"
#include "coordinator/compare_command.h"
#include "coordinator/probe_command.h"
#include "coordinator/report_command.h"
#include "coordinator/run_command.h"

namespace {

std::atomic<bool> g_stop{false};

// The first SIGINT/SIGTERM asks the run to close and report; a second one
// ends the process (the agents' leases close the connections).
void OnSignal(int signal_number) {
  if (g_stop.exchange(true)) {
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
  }
}

}  // namespace

int main(int argc, char** argv) {
  fourtuple::SetLogProgramName("coordinator");
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<fourtuple::coordinator::CommandLine> command_line =
      fourtuple::coordinator::ParseCommandLine(args);
  if (!command_line.ok()) {
    std::fprintf(stderr, "coordinator: %s\n%s", std::string(command_line.status().message()).c_str(),
                 fourtuple::coordinator::Usage().c_str());
    return fourtuple::coordinator::kExitUsage;
  }
  if (command_line->command == "help") {
    std::fputs(fourtuple::coordinator::Usage().c_str(), stdout);
    return 0;
  }
  if (command_line->command == "probe") {
    std::vector<std::string> endpoints =
        absl::StrSplit(command_line->Get("agents"), ',', absl::SkipWhitespace());
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        fourtuple::coordinator::CredentialsFromCommandLine(*command_line);
    if (!credentials.ok()) {
      std::fprintf(stderr, "coordinator: %s\n", std::string(credentials.status().message()).c_str());
      return fourtuple::coordinator::kExitUsage;
    }
    return fourtuple::coordinator::ExecuteProbeCommand(endpoints, *credentials);
  }
  if (command_line->command == "report") {
    return fourtuple::coordinator::ExecuteReportCommand(*command_line);
  }
  if (command_line->command == "compare") {
    return fourtuple::coordinator::ExecuteCompareCommand(*command_line);
  }
  if (command_line->command == "preflight") {
    return fourtuple::coordinator::ExecutePreflightCommand(*command_line);
  }
  // A run's gRPC threads each allocate reports from an arena of their own
  // by default (up to 8 per core); at 1,000 agents the freed space spread
  // over those arenas held the coordinator's RSS at almost twice its heap.
  mallopt(M_ARENA_MAX, 2);
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return fourtuple::coordinator::ExecuteRunCommand(*command_line, &g_stop);
}
