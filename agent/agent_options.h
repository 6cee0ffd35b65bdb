// The agent's command-line options, parsed from the raw flag strings so that
// main.cc stays thin and the parsing is unit-tested.
// Thread-safety: plain values; constant once parsed.
#ifndef FOURTUPLE_AGENT_AGENT_OPTIONS_H_
#define FOURTUPLE_AGENT_AGENT_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/worker/source_ports.h"
#include "common/address.h"
#include "common/flag_names.h"
#include "common/grpc_credentials.h"
#include "common/wire_limits.h"

namespace fourtuple::agent {

// The flags exactly as given on the command line.
struct AgentFlags {
  std::string listen = "127.0.0.1:7000";
  std::string processes = "auto";
  std::string ready_file;
  std::string allow_targets = "127.0.0.0/8,::1/128";
  std::string host_label;
  std::string metrics;
  bool insecure = false;
  std::string source_ports = "kernel";
  std::string assignment_timeout = "10s";
  AuthFlags auth;  // --token-file, --tls-cert, --tls-key, --tls-ca
};

struct AgentOptions {
  // Where the gRPC service listens; port 0 picks a free port (published in
  // the ready file). Default 127.0.0.1:7000.
  Endpoint listen;
  // Worker processes per run; 0 = auto (enough to stay inside each process's
  // fd budget for the assignment, at least the number of cores). An
  // assignment's own `processes` overrides it. Default auto.
  int processes = 0;
  // Written atomically once serving: {"listen": ["127.0.0.1:7001"]}. Empty:
  // none. Default none.
  std::string ready_file;
  // Targets an assignment may name; anything outside is refused with
  // PERMISSION_DENIED, so an agent cannot be turned against arbitrary hosts.
  // Default loopback only (127.0.0.0/8, ::1/128).
  std::vector<Cidr> allow_targets;
  // The --allow-targets text, for messages.
  std::string allow_targets_text;
  // Reported as the host (Probe hostname, report host) instead of the real
  // hostname when not empty. Default empty.
  std::string host_label;
  // What every call must present (--token-file's token, a client
  // certificate signed by --tls-ca) and the credentials to listen with.
  // Default: nothing required, plaintext.
  ServerAuth auth;
  // Where GET /metrics (Prometheus text, fourtuple_agent_*) is served; port
  // 0 picks a free port (published in the ready file). Read-only counts, no
  // authentication. Unset: none. Default unset.
  std::optional<Endpoint> metrics;
  // Who picks each connection's source port: the kernel's search at
  // connect() (kernel), or the agent's own per-(source, target) cursor with an
  // explicit bind (agent), which keeps connect() from slowing as a source
  // address's port range fills. Default kernel.
  SourcePorts source_ports = SourcePorts::kKernel;
  // The worker program every run's workers exec (agent/worker/main.cc), as
  // an absolute path checked to be executable; see ResolveWorkerBinary.
  std::string worker_binary;
  // A Run stream must send its assignment within this of opening, or it is
  // cancelled: a silent stream cannot hold a handler thread. Default 10s.
  absl::Duration assignment_timeout = absl::Seconds(10);
};

// DashesToUnderscores (common/flag_names.h) maps --ready-file to absl's name.

// Validates every flag; errors name the flag ("--processes: ...").
// Reads the token and TLS files. Listening on a non-loopback address needs
// a token, TLS or `insecure`: whoever reaches an unauthenticated agent can
// make it open connections.
absl::StatusOr<AgentOptions> ParseAgentFlags(const AgentFlags& flags);

// "auto" -> 0, "N" -> N in [1, kMaxProcesses].
absl::StatusOr<int> ParseProcessesFlag(absl::string_view text);

// "kernel" | "agent".
absl::StatusOr<SourcePorts> ParseSourcePortsFlag(absl::string_view text);

// "CIDR[,CIDR...]"; at least one.
absl::StatusOr<std::vector<Cidr>> ParseCidrList(absl::string_view text);

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_AGENT_OPTIONS_H_
