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

// The worker program: --worker-binary's value, or (empty) this binary's own
// path plus "-worker" (build/bin/agent-worker next to build/bin/agent,
// /usr/bin/fourtuple-agent-worker next to fourtuple-agent). An error,
// naming --worker-binary, when it is not an executable file.
absl::StatusOr<std::string> ResolveWorkerBinary(const std::string& flag_value);

// Serves until SIGTERM or SIGINT; OK after a clean shutdown. Errors name the
// flag they come from (say --listen when the port is taken).
absl::Status RunAgent(const AgentOptions& options);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_SERVER_H_
