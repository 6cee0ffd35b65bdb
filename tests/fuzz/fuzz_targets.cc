#include "tests/fuzz/fuzz_targets.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/address.h"
#include "coordinator/plan.h"

namespace fourtuple::fuzz {
namespace {

// A violated property: say which, and abort so the fuzzer keeps the input.
[[noreturn]] void Violated(const char* property, absl::string_view detail) {
  std::fprintf(stderr, "fuzz property violated: %s: %.*s\n", property, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void CheckError(const absl::Status& status, const char* what) {
  if (status.code() != absl::StatusCode::kInvalidArgument || status.message().empty()) {
    Violated(what, status.ToString());
  }
}

}  // namespace

void FuzzPlan(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<coordinator::Plan> plan = coordinator::ParsePlan(text);
  if (!plan.ok()) {
    CheckError(plan.status(), "ParsePlan error is InvalidArgument");
    return;
  }
  const std::string printed = coordinator::PlanToJson(*plan).dump();
  absl::StatusOr<coordinator::Plan> again = coordinator::ParsePlan(printed);
  if (!again.ok()) Violated("PlanToJson output parses", again.status().ToString() + "\n" + printed);
  const std::string reprinted = coordinator::PlanToJson(*again).dump();
  if (reprinted != printed) Violated("PlanToJson round trip is stable", printed + "\n" + reprinted);
}

void FuzzAddress(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  if (absl::StatusOr<IpAddress> address = ParseIpAddress(text); address.ok()) {
    absl::StatusOr<IpAddress> again = ParseIpAddress(address->ToString());
    if (!again.ok() || !(*again == *address)) Violated("IpAddress round trip", address->ToString());
  } else {
    CheckError(address.status(), "ParseIpAddress error is InvalidArgument");
  }

  // A small cap: a /8 must be refused by count, not expanded.
  if (absl::StatusOr<std::vector<IpAddress>> spec = ParseAddressSpec(text, 4096); spec.ok()) {
    if (spec->empty() || spec->size() > 4096) Violated("ParseAddressSpec size within 1..cap", text);
    for (const IpAddress& address : *spec) {
      if (address.family != (*spec)[0].family) Violated("ParseAddressSpec one family", text);
    }
  } else {
    CheckError(spec.status(), "ParseAddressSpec error is InvalidArgument");
  }

  for (bool allow_zero : {false, true}) {
    if (absl::StatusOr<Endpoint> endpoint = ParseEndpoint(text, allow_zero); endpoint.ok()) {
      if (!allow_zero && endpoint->port == 0) Violated("ParseEndpoint port 0 refused", text);
      absl::StatusOr<Endpoint> again = ParseEndpoint(endpoint->ToString(), allow_zero);
      if (!again.ok() || !(again->address == endpoint->address) || again->port != endpoint->port) {
        Violated("Endpoint round trip", endpoint->ToString());
      }
    } else {
      CheckError(endpoint.status(), "ParseEndpoint error is InvalidArgument");
    }
  }
  if (absl::StatusOr<std::vector<Endpoint>> list = ParseEndpointList(text); !list.ok()) {
    CheckError(list.status(), "ParseEndpointList error is InvalidArgument");
  }

  if (absl::StatusOr<Cidr> cidr = ParseCidr(text); cidr.ok()) {
    if (cidr->prefix_length < 0 || cidr->prefix_length > (cidr->network.family == AF_INET ? 32 : 128)) {
      Violated("Cidr prefix length in range", cidr->ToString());
    }
    if (!cidr->Contains(cidr->network)) Violated("Cidr contains its network", cidr->ToString());
    absl::StatusOr<Cidr> again = ParseCidr(cidr->ToString());
    if (!again.ok() || again->prefix_length != cidr->prefix_length || !(again->network == cidr->network)) {
      Violated("Cidr round trip", cidr->ToString());
    }
  } else {
    CheckError(cidr.status(), "ParseCidr error is InvalidArgument");
  }
}

}  // namespace fourtuple::fuzz
