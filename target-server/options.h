// target-server's options, and their validation from the command-line text.
// Flags arrive as text (main.cc declares them as strings) so that every bad
// value is reported here, naming the flag, and exits 2 — absl's own parse
// errors would exit 1, the code for runtime failures.
#ifndef FOURTUPLE_TARGET_SERVER_OPTIONS_H_
#define FOURTUPLE_TARGET_SERVER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/address.h"
#include "common/flag_names.h"
#include "common/grpc_credentials.h"

namespace fourtuple::target_server {

struct TargetServerOptions {
  // Listening endpoints, in the order given; port 0 picks a free port.
  // Required.
  std::vector<Endpoint> listen;
  // Worker processes; each accepts and echoes on every listener. Default:
  // the cores this process may run on.
  int processes = 1;
  // Where TargetControl (gRPC) listens; unset: no control server.
  std::optional<Endpoint> control;
  // Where GET /metrics (Prometheus text, fourtuple_target_*) is served;
  // port 0 picks a free port. Unset: no metrics server. Default unset.
  std::optional<Endpoint> metrics;
  // listen(2) backlog (the kernel caps it at net.core.somaxconn). Default 65535.
  int backlog = 65535;
  // SO_RCVBUF / SO_SNDBUF set on the listeners and so inherited by every
  // accepted socket; 0 keeps the kernel default (autotuning). Default 0.
  int rcvbuf = 0;
  int sndbuf = 0;
  // One JSON stats line on stdout per interval; zero: none. Default zero.
  absl::Duration stats_interval = absl::ZeroDuration();
  // Written atomically once every listener (and the control server) is up;
  // empty: none.
  std::string ready_file;
  // What every TargetControl call must present (--token-file, a client
  // certificate signed by --tls-ca) and the credentials --control listens
  // with. Default: nothing required, plaintext.
  ServerAuth auth;
  // --listen-tls-cert/--listen-tls-key: terminate TLS on every --listen port
  // with this certificate (then its chain) and key, PEM contents. Empty: plain TCP.
  std::string listen_tls_cert_pem;
  std::string listen_tls_key_pem;
  // --listen-protocol=websocket: answer a WebSocket upgrade (RFC 6455) on
  // every connection and echo its data frames. Default false: raw bytes.
  bool listen_websocket = false;
};

// The flags exactly as typed; an empty string means "not given".
struct TargetServerFlags {
  std::string listen;
  std::string processes;
  std::string control;
  std::string metrics;
  std::string backlog;
  std::string rcvbuf;
  std::string sndbuf;
  std::string stats_interval;
  std::string ready_file;
  std::string listen_tls_cert;  // file names
  std::string listen_tls_key;
  std::string listen_protocol;  // "raw" or "websocket"
  bool insecure = false;        // allow a non-loopback --control without token or TLS
  AuthFlags auth;               // --token-file, --tls-cert, --tls-key, --tls-ca
};

// InvalidArgument naming the flag ("--processes: expected a positive integer,
// got '0'") for any bad value. `default_processes` is used when --processes
// is not given.
absl::StatusOr<TargetServerOptions> ParseTargetServerFlags(const TargetServerFlags& flags,
                                                           int default_processes);

// DashesToUnderscores (common/flag_names.h) maps --stats-interval to absl's name.

// The cores this process may run on (sched_getaffinity), at least 1.
int AvailableCores();

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_OPTIONS_H_
