// Test support: a small load client that opens many TCP connections from
// several source addresses, echo-checks each with bytes unique to it, and
// closes them, in forked worker processes (one process holds at most
// RLIMIT_NOFILE descriptors: 20000 here).
//
// Each socket is bound to its source address with IP_BIND_ADDRESS_NO_PORT
// before a nonblocking connect, so the kernel picks the port per 4-tuple.
// Connection i uses source sources[i % S] and target targets[(i / S) % T].
//
// For tests only. Start() forks: call it before the test creates any thread
// (a gRPC channel starts threads). Thread-compatible.
#ifndef FOURTUPLE_TESTS_SUPPORT_ECHO_CLIENT_H_
#define FOURTUPLE_TESTS_SUPPORT_ECHO_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/address.h"
#include "common/worker_pool.h"

namespace fourtuple::testing {

struct EchoClientOptions {
  std::vector<Endpoint> targets;   // required
  std::vector<IpAddress> sources;  // required, at most 256, same family as the targets
  uint64_t connections = 0;        // total over all processes
  int processes = 2;               // each holds connections / processes sockets
  uint32_t max_in_flight = 512;    // connects (or echoes) outstanding per process
  uint32_t payload_bytes = 16;     // echo payload per connection, 16..4096
  absl::Duration phase_timeout = absl::Seconds(30);
  bool abortive_close = true;  // CloseAll sends RST (no TIME_WAIT) rather than FIN
};

// Counts summed over every process, cumulative since Start().
struct EchoClientResult {
  uint64_t established = 0;      // connects that completed
  uint64_t connect_failed = 0;   // connects that failed or timed out
  uint64_t echo_verified = 0;    // exactly the bytes sent came back
  uint64_t echo_mismatched = 0;  // other bytes came back
  uint64_t echo_timed_out = 0;
  uint64_t closed_by_peer = 0;                            // EOF or reset while waiting for an echo
  uint64_t closed = 0;                                    // closed by CloseAll
  std::map<std::string, uint64_t> errors;                 // by reason name
  std::map<std::string, uint64_t> established_by_source;  // source address -> count
  std::string ToString() const;
};

class EchoClient {
 public:
  static absl::StatusOr<std::unique_ptr<EchoClient>> Start(const EchoClientOptions& options);
  ~EchoClient();  // the worker processes are terminated (their sockets close)

  // Opens every connection; returns once each is established or failed.
  absl::StatusOr<EchoClientResult> Connect();
  // One echo round over every established connection (round numbers count
  // from 1 and go into the payload, so a stale echo does not verify).
  absl::StatusOr<EchoClientResult> Echo();
  // Closes every connection.
  absl::StatusOr<EchoClientResult> CloseAll();

  // The counts now, without a command.
  EchoClientResult Read() const;

 private:
  explicit EchoClient(const EchoClientOptions& options) : options_(options) {}
  absl::StatusOr<EchoClientResult> Command(char command);

  const EchoClientOptions options_;
  std::unique_ptr<WorkerPool> pool_;
};

}  // namespace fourtuple::testing

#endif  // FOURTUPLE_TESTS_SUPPORT_ECHO_CLIENT_H_
