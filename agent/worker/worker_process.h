// The body of an agent worker process (the connection engine).
// The agent-worker program (agent/worker/main.cc) runs it; see
// worker_protocol.h for the commands it obeys and the shared block it fills.
#ifndef FOURTUPLE_AGENT_WORKER_WORKER_PROCESS_H_
#define FOURTUPLE_AGENT_WORKER_WORKER_PROCESS_H_

#include "agent/worker/source_ports.h"
#include "common/worker_pool.h"

namespace fourtuple::agent {

// Serves commands from context.control_fd until it closes or SIGTERM; returns
// the process exit code (0 after a clean shutdown).
int RunAgentWorker(WorkerContext& context, SourcePorts source_ports = SourcePorts::kKernel);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_WORKER_PROCESS_H_
