#include "coordinator/plan_names.h"

#include <netdb.h>
#include <sys/socket.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/address.h"

namespace fourtuple::coordinator {
namespace {

// `host_port` passed ParsePlan's HOST:PORT check. OK for addresses and for
// names that resolve or whose lookup could not be decided.
absl::Status CheckResolves(const std::string& host_port, const std::string& path) {
  if (ParseEndpoint(host_port).ok()) return absl::OkStatus();  // an address
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (result != nullptr) freeaddrinfo(result);
  if (rc == EAI_NONAME || rc == EAI_NODATA) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": host \"", host, "\" does not resolve (", gai_strerror(rc), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlanNamesResolve(const Plan& plan) {
  for (size_t i = 0; i < plan.agents.size(); ++i) {
    absl::Status status =
        CheckResolves(plan.agents[i].endpoint, absl::StrCat("plan.agents[", i, "].endpoint"));
    if (!status.ok()) return status;
  }
  if (!plan.target_control.empty()) return CheckResolves(plan.target_control, "plan.target.control");
  return absl::OkStatus();
}

}  // namespace fourtuple::coordinator
