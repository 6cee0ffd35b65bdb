// agent-worker: one of the agent's worker processes (the connection engine,
// agent/worker/worker_process.h). The agent execs it, once per worker per run, as its
// own path plus "-worker" (build/bin/agent-worker,
// /usr/bin/fourtuple-agent-worker) or --worker-binary.
//
// Why a program of its own: a million connections take ~54 workers (20,000
// fds each at most), and every page a worker maps counts in its RSS. The
// agent itself maps gRPC, TLS, HTTP and some 100 Abseil libraries (~11 MiB
// per exec'd copy, ~5 MiB even when forked); this program links statically
// only what the engine uses, so a worker costs its connection table plus
// about a megabyte.
#include <cstdio>
#include <cstring>

#include "agent/worker/source_ports.h"
#include "agent/worker/worker_process.h"
#include "common/logging.h"
#include "common/worker_pool.h"

int main(int argc, char** argv) {
  fourtuple::SetLogProgramName("agent-worker");
  if (!fourtuple::WorkerContext::IsExecWorker()) {
    std::fprintf(stderr, "agent-worker: runs only as a worker the agent starts (see `agent --help`)\n");
    return 2;
  }
  absl::StatusOr<fourtuple::WorkerContext> context = fourtuple::WorkerContext::FromEnvironment();
  if (!context.ok()) {
    LOG_ERROR("worker set-up: %s", context.status().ToString());
    return 1;
  }
  fourtuple::agent::SourcePorts source_ports = fourtuple::agent::SourcePorts::kKernel;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], fourtuple::agent::kAgentSourcePortsArg) == 0) {
      source_ports = fourtuple::agent::SourcePorts::kAgent;
    }
  }
  return fourtuple::agent::RunAgentWorker(*context, source_ports);
}
