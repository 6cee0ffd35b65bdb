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

// User memory of one held TLS connection. A TLS 1.3 connection with an AEAD
// suite is detached from its SSL object once its handshake is done
// (common/tls_record.h) and keeps 120 bytes of record keys plus its slot in
// the SSL pointer table; counted with a margin for the allocator. Otherwise
// (TLS 1.2) it keeps OpenSSL's SSL object and session: ~31 KB on the agent
// (with the server's certificate) and ~14 KB on target-server, measured by
// bench/tls.sh with OpenSSL 3.0. See docs/tls.md.
inline constexpr double kTlsDetachedBytesPerConnection = 512;
inline constexpr double kTlsAgentSslBytesPerConnection = 32 * 1024;
inline constexpr double kTlsTargetSslBytesPerConnection = 16 * 1024;

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
