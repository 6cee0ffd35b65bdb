#include "agent/agent_options.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/duration.h"
#include "common/status_macros.h"

namespace fourtuple::agent {
namespace {

absl::Status FlagError(absl::string_view flag, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", status.message()));
}

}  // namespace

absl::StatusOr<int> ParseProcessesFlag(absl::string_view text) {
  if (text == "auto") return 0;
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 1 || value > kMaxProcesses) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not \"auto\" or a number of processes in 1..", kMaxProcesses));
  }
  return value;
}

absl::StatusOr<SourcePorts> ParseSourcePortsFlag(absl::string_view text) {
  if (text == "kernel") return SourcePorts::kKernel;
  if (text == "agent") return SourcePorts::kAgent;
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not \"kernel\" or \"agent\""));
}

absl::StatusOr<std::vector<Cidr>> ParseCidrList(absl::string_view text) {
  std::vector<Cidr> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has an empty entry; expected CIDR[,CIDR...]"));
    }
    ASSIGN_OR_RETURN(Cidr cidr, ParseCidr(part));
    out.push_back(cidr);
  }
  return out;
}

absl::StatusOr<AgentOptions> ParseAgentFlags(const AgentFlags& flags) {
  AgentOptions options;
  absl::StatusOr<Endpoint> listen = ParseEndpoint(flags.listen, /*allow_port_zero=*/true);
  if (!listen.ok()) return FlagError("listen", listen.status());
  options.listen = *listen;
  ASSIGN_OR_RETURN(options.auth, LoadServerAuth(flags.auth));
  RETURN_IF_ERROR(CheckExposure("listen", options.listen, options.auth, flags.insecure));

  absl::StatusOr<int> processes = ParseProcessesFlag(flags.processes);
  if (!processes.ok()) return FlagError("processes", processes.status());
  options.processes = *processes;

  absl::StatusOr<SourcePorts> source_ports = ParseSourcePortsFlag(flags.source_ports);
  if (!source_ports.ok()) return FlagError("source-ports", source_ports.status());
  options.source_ports = *source_ports;

  absl::StatusOr<std::vector<Cidr>> allow = ParseCidrList(flags.allow_targets);
  if (!allow.ok()) return FlagError("allow-targets", allow.status());
  options.allow_targets = std::move(*allow);
  options.allow_targets_text = flags.allow_targets;

  if (!flags.metrics.empty()) {
    absl::StatusOr<Endpoint> metrics = ParseEndpoint(flags.metrics, /*allow_port_zero=*/true);
    if (!metrics.ok()) return FlagError("metrics", metrics.status());
    options.metrics = *metrics;
  }

  absl::StatusOr<absl::Duration> assignment_timeout = ParseDuration(flags.assignment_timeout);
  if (!assignment_timeout.ok()) return FlagError("assignment-timeout", assignment_timeout.status());
  if (*assignment_timeout < absl::Milliseconds(100) || *assignment_timeout > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--assignment-timeout: ", flags.assignment_timeout, " is outside 100ms..1h"));
  }
  options.assignment_timeout = *assignment_timeout;

  options.ready_file = flags.ready_file;
  options.host_label = flags.host_label;
  for (char c : options.host_label) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--host-label: \"", flags.host_label, "\" must be printable ASCII without spaces"));
    }
  }
  return options;
}

}  // namespace fourtuple::agent
