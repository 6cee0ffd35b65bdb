// The agent process around its service: listens, publishes the ready file,
// and on SIGTERM/SIGINT ends any run (every connection closes with its
// workers), shuts the server down and returns.
// Thread-safety: RunAgent is called once, from main().
#ifndef FOURTUPLE_AGENT_AGENT_SERVER_H_
#define FOURTUPLE_AGENT_AGENT_SERVER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/agent_options.h"

namespace fourtuple::agent {

// The path of the running binary, which workers are started from:
// /proc/self/exe resolved (so `ps` shows a real path), or /proc/self/exe
// itself when the file was replaced since start (a rebuild): that still
// names this very build.
absl::StatusOr<std::string> SelfExecutablePath();

// Serves until SIGTERM or SIGINT; OK after a clean shutdown. Errors name the
// flag they come from (say --listen when the port is taken).
absl::Status RunAgent(const AgentOptions& options);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_SERVER_H_
