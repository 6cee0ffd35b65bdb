// Who picks each connection's source port (the agent's --source-ports).
// Thread-safety: plain values.
#ifndef FOURTUPLE_AGENT_WORKER_SOURCE_PORTS_H_
#define FOURTUPLE_AGENT_WORKER_SOURCE_PORTS_H_

#include <cstdint>

namespace fourtuple::agent {

enum class SourcePorts : uint8_t {
  // The kernel, at connect() per 4-tuple (IP_BIND_ADDRESS_NO_PORT): each
  // candidate port costs a lookup, and the search lengthens as a source
  // address's range fills.
  kKernel,
  // The agent: an explicit bind from a cursor per (source address, target
  // endpoint), moving on past ports in use; connect() then searches nothing.
  kAgent,
};

// agent-worker's command-line argument that selects kAgent (the worker
// program parses no flags but this one).
inline constexpr char kAgentSourcePortsArg[] = "--source-ports=agent";

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_SOURCE_PORTS_H_
