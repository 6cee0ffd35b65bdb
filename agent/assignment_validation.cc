#include "agent/assignment_validation.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/agent_options.h"
#include "agent/worker/echo_exchange.h"
#include "agent/worker/opening.h"
#include "agent/worker/tls_client.h"
#include "agent/worker/worker_protocol.h"
#include "agent/worker/ws_client.h"
#include "common/human_format.h"
#include "common/local_routes.h"
#include "common/terminal_text.h"

namespace fourtuple::agent {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("assignment.", field, ": ", what));
}

absl::Status CheckRange(absl::string_view field, uint64_t value, uint64_t low, uint64_t high,
                        absl::string_view unit) {
  if (value < low || value > high) {
    return FieldError(field, absl::StrCat(value, " is outside ", low, "..", high, unit));
  }
  return absl::OkStatus();
}

absl::Status ValidateRunId(absl::string_view run_id) {
  if (run_id.empty()) return FieldError("run_id", "missing");
  if (run_id.size() > kMaxRunIdLength) {
    return FieldError("run_id", absl::StrCat("longer than ", kMaxRunIdLength, " characters"));
  }
  for (char c : run_id) {
    if (c < 0x20 || c > 0x7e) return FieldError("run_id", "must be printable ASCII");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<IpAddress> ParseLocalAddresses(const std::vector<std::string>& texts) {
  std::vector<IpAddress> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    absl::StatusOr<IpAddress> address = ParseIpAddress(text);
    if (address.ok()) out.push_back(*address);
  }
  return out;
}

std::string RunIdForLog(absl::string_view run_id) {
  if (ValidateRunId(run_id).ok()) return std::string(run_id);
  constexpr size_t kShown = 32;
  return absl::StrCat("\"", EscapeForTerminal(run_id.substr(0, kShown)), run_id.size() > kShown ? "..." : "",
                      "\" (", FormatCount(run_id.size()), " bytes)");
}

absl::StatusOr<ValidatedAssignment> ValidateAssignment(const v1::Assignment& assignment,
                                                       const ValidationPolicy& policy) {
  if (absl::Status status = ValidateRunId(assignment.run_id()); !status.ok()) return status;
  ValidatedAssignment out;

  // Targets: endpoints, within bounds, allowed.
  if (assignment.targets_size() < 1 || assignment.targets_size() > kMaxTargets) {
    return FieldError("targets",
                      absl::StrCat(assignment.targets_size(), " targets; expected 1..", kMaxTargets));
  }
  for (int i = 0; i < assignment.targets_size(); ++i) {
    std::string field = absl::StrCat("targets[", i, "]");
    absl::StatusOr<Endpoint> target = ParseEndpoint(assignment.targets(i));
    if (!target.ok()) return FieldError(field, target.status().message());
    bool allowed = false;
    for (const Cidr& cidr : policy.allow_targets) allowed = allowed || cidr.Contains(target->address);
    if (!allowed) {
      return absl::PermissionDeniedError(
          absl::StrCat("assignment.", field, ": ", target->ToString(), " is outside --allow-targets=",
                       policy.allow_targets_text, " (start the agent with --allow-targets including it)"));
    }
    out.targets.push_back(*target);
  }

  // Sources: addresses and prefixes this host binds, within bounds.
  absl::StatusOr<SourceSpace> sources = SourceSpace::FromAssignment(assignment);
  if (!sources.ok()) return absl::InvalidArgumentError(sources.status().message());
  for (size_t i = 0; i < sources->entries().size(); ++i) {
    const std::string field = absl::StrCat("source_addresses[", i, "]");
    const Cidr& entry = sources->entries()[i];
    if (!SourceIsLocal(entry, policy.local_addresses, policy.local_routes)) {
      return FieldError(field, absl::StrCat(entry.IsSingle() ? entry.network.ToString() : entry.ToString(),
                                            entry.IsSingle() ? " is not an address of this host"
                                                             : " is inside no local route of this host",
                                            ": ", HowToMakeLocal(entry)));
    }
    // Every source pairs with every target (round-robin), so one family mismatch
    // would fail a fixed share of the connections.
    if (entry.network.family != out.targets.front().address.family) {
      return FieldError(
          field, absl::StrCat(entry.ToString(), " cannot reach target ", out.targets.front().ToString(),
                              ": sources and targets must be the same IP family"));
    }
  }
  out.sources = *std::move(sources);
  for (size_t i = 1; i < out.targets.size(); ++i) {
    if (out.targets[i].address.family != out.targets.front().address.family) {
      return FieldError(absl::StrCat("targets[", i, "]"),
                        "every target must be of the same IP family as targets[0]");
    }
  }

  if (absl::Status s = CheckRange("connections", assignment.connections(), 1, kMaxAgentConnections, "");
      !s.ok()) {
    return s;
  }
  if (!std::isfinite(assignment.connect_rate()) || assignment.connect_rate() < 0 ||
      assignment.connect_rate() > kMaxConnectRate) {
    return FieldError("connect_rate", absl::StrCat(assignment.connect_rate(), " is outside 0..",
                                                   kMaxConnectRate, " per second (0 = unlimited)"));
  }
  if (!std::isfinite(assignment.echo_rate()) || assignment.echo_rate() < 0 ||
      assignment.echo_rate() > kMaxConnectRate) {
    return FieldError("echo_rate", absl::StrCat(assignment.echo_rate(), " is outside 0..", kMaxConnectRate,
                                                " per second (0 = unlimited)"));
  }
  // Any larger value is fine: no worker has more connects pending than
  // connections (SplitIntoSlices caps each share).
  if (assignment.max_in_flight() < 1) {
    return FieldError("max_in_flight", "0; at least 1 connect must be allowed in flight");
  }
  if (absl::Status s =
          CheckRange("connect_timeout_ms", assignment.connect_timeout_ms(), 1, kMaxTimeoutMs, " ms");
      !s.ok()) {
    return s;
  }
  // payload_bytes, or echo_send and echo_expect with their bounds.
  if (absl::Status s = EchoExchangeOf(assignment).status(); !s.ok()) return s;
  // echo_greeting, echo_first_send / echo_first_expect (templates).
  if (absl::Status s = OpeningOf(assignment).status(); !s.ok()) return s;
  if (assignment.has_websocket()) {
    if (absl::Status s = ValidateWebSocketSettings(assignment.websocket()); !s.ok()) return s;
    // The opening is raw bytes before any frame: not spoken over WebSocket.
    if (!assignment.echo_greeting().empty() || !assignment.echo_first_send().empty()) {
      return FieldError("echo_greeting",
                        "cannot be combined with websocket (send it as echo_send text frames)");
    }
  }
  if (assignment.has_tls()) {
    if (absl::Status s = ValidateTlsClientSettings(assignment.tls()); !s.ok()) return s;
  }
  if (absl::Status s = CheckRange("echo_timeout_ms", assignment.echo_timeout_ms(), 1, kMaxTimeoutMs, " ms");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("report_interval_ms", assignment.report_interval_ms(), kMinReportIntervalMs,
                                  kMaxReportIntervalMs, " ms");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("lease_ms", assignment.lease_ms(), kMinLeaseMs, kMaxLeaseMs, " ms");
      !s.ok()) {
    return s;
  }
  if (assignment.processes() > static_cast<uint32_t>(kMaxProcesses)) {
    return FieldError("processes", absl::StrCat(assignment.processes(), " is outside 0..", kMaxProcesses,
                                                " (0 = the agent decides)"));
  }

  out.assignment = assignment;
  return out;
}

}  // namespace fourtuple::agent
