// `coordinator run` and `coordinator preflight`: everything between the
// parsed command line and the exit code, so main.cc stays thin.
//
// Exit codes: 0 run passed, 1 run finished but did not pass (or was
// interrupted), 2 bad plan, 3 preflight failed or an agent unreachable or
// refusing before the start.
//
// Thread-safety: each call blocks its thread for the whole command.
#ifndef FOURTUPLE_COORDINATOR_RUN_COMMAND_H_
#define FOURTUPLE_COORDINATOR_RUN_COMMAND_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>

#include "coordinator/cli.h"

namespace fourtuple::coordinator {

inline constexpr int kExitPass = 0;
inline constexpr int kExitFail = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitPreflight = 3;

// Channel credentials from --token-file and --tls-*; errors name the flag
// (exit 2).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFromCommandLine(
    const CommandLine& command_line);

// `stop` is set by a signal handler to cut the run short (may be null).
int ExecuteRunCommand(const CommandLine& command_line, const std::atomic<bool>* stop);

int ExecutePreflightCommand(const CommandLine& command_line);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_RUN_COMMAND_H_
