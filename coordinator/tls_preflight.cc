#include "coordinator/tls_preflight.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/human_format.h"

namespace fourtuple::coordinator {

double TlsBytesPerConnection(const Plan& plan, bool target_shares_host) {
  if (!plan.tls.has_value()) return 0;
  // Only a plan that caps TLS at 1.2 rules the detach out for sure.
  const bool detached = plan.tls->max_version != "1.2";
  const double agent = detached ? kTlsDetachedBytesPerConnection : kTlsAgentSslBytesPerConnection;
  const double target = detached ? kTlsDetachedBytesPerConnection : kTlsTargetSslBytesPerConnection;
  return agent + (target_shares_host ? target : 0);
}

std::optional<std::string> TlsRateWarning(const Plan& plan, const std::vector<const v1::HostFacts*>& facts) {
  if (!plan.tls.has_value() || plan.connect_rate <= 0) return std::nullopt;
  // Agents on one kernel share its cores: count each host once.
  std::set<std::string> hosts;
  uint64_t cores = 0;
  for (const v1::HostFacts* host : facts) {
    if (host == nullptr) continue;
    const std::string key = host->boot_id().empty() ? host->hostname() : host->boot_id();
    if (hosts.insert(key).second) cores += host->cores() > 0 ? host->cores() : 1;
  }
  if (cores == 0) return std::nullopt;
  const double capacity = static_cast<double>(cores) * kTlsHandshakesPerCoreSecond;
  if (plan.connect_rate <= kTlsRateWarningFactor * capacity) return std::nullopt;
  return absl::StrCat("connect_rate ", FormatNumber(plan.connect_rate), "/s is far above the ~",
                      FormatNumber(capacity), " full TLS handshakes/s the agents' ", cores,
                      " cores can do (about ", FormatNumber(kTlsHandshakesPerCoreSecond),
                      " per core): the ramp will take longer than the rate says and handshakes may hit "
                      "tls_handshake_timeout; lower connect_rate, add agent hosts, or set target.tls.resume");
}

}  // namespace fourtuple::coordinator
