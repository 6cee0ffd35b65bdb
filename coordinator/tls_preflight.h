// What target.tls adds to preflight: the memory a held TLS connection costs
// (OpenSSL's per-connection state, on the agent and, when the target runs on
// the agents' host, on target-server too) and a warning when the plan's
// connect_rate is far above what the agents' cores can handshake.
//
// Thread-safety: pure functions.
#ifndef FOURTUPLE_COORDINATOR_TLS_PREFLIGHT_H_
#define FOURTUPLE_COORDINATOR_TLS_PREFLIGHT_H_

#include <optional>
#include <string>
#include <vector>

#include "coordinator/plan.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

// User memory of one held TLS connection (its SSL object, the session and
// the server's certificate it keeps, with buffers released), measured by
// bench/tls.sh with OpenSSL 3.0 at TLS 1.3 and ECDSA P-256; see
// docs/tls.md for what the bytes are.
inline constexpr double kTlsAgentBytesPerConnection = 12 * 1024;
inline constexpr double kTlsTargetBytesPerConnection = 12 * 1024;

// Full TLS 1.3 handshakes (ECDHE P-256, ECDSA P-256 verify) one agent core
// completes per second, measured by bench/tls.sh; a connect_rate above
// kTlsRateWarningFactor times the agents' total is warned about.
inline constexpr double kTlsHandshakesPerCoreSecond = 2000;
inline constexpr double kTlsRateWarningFactor = 2;

// Extra bytes per connection on an agent's host: 0 without target.tls.
double TlsBytesPerConnection(const Plan& plan, bool target_shares_host);

// The warning for a connect_rate far above the agents' handshake capacity
// (facts of the reachable agents; one entry per host is enough), if any.
std::optional<std::string> TlsRateWarning(const Plan& plan, const std::vector<const v1::HostFacts*>& facts);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_TLS_PREFLIGHT_H_
