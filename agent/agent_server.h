// The agent process around its service: listens, publishes the ready file,
// and on SIGTERM/SIGINT ends any run (every connection closes with its
// workers), shuts the server down and returns.
// Thread-safety: RunAgent is called once, from main().
#ifndef FOURTUPLE_AGENT_AGENT_SERVER_H_
#define FOURTUPLE_AGENT_AGENT_SERVER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/agent_options.h"
#include "agent/source_ports.h"
#include "common/worker_spawner.h"

namespace fourtuple::agent {

// The spawner every run's workers are forked from (worker_spawner.h): call
// it first thing in main(), before anything starts a thread (loading gRPC
// credentials does), and before the stop signals are caught, so workers keep
// the default dispositions (they take SIGTERM through a signalfd).
absl::StatusOr<std::unique_ptr<WorkerSpawner>> StartWorkerSpawner(SourcePorts source_ports);

// Serves until SIGTERM or SIGINT; OK after a clean shutdown. Errors name the
// flag they come from (say --listen when the port is taken).
absl::Status RunAgent(const AgentOptions& options, WorkerSpawner& spawner);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_SERVER_H_
