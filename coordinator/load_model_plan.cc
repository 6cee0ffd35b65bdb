#include "coordinator/load_model_plan.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/human_format.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {
namespace {

using nlohmann::json;

constexpr absl::Duration Millis(uint64_t ms) { return absl::Milliseconds(static_cast<int64_t>(ms)); }

absl::Status ParseChurn(const json& churn, double connect_rate, ChurnPlan* out) {
  if (!churn.is_object()) {
    return WrongType("plan.churn", "an object with \"rate\" and \"duration\"", churn);
  }
  RETURN_IF_ERROR(CheckKnownFields(churn, "plan.churn", {"rate", "duration"}));
  if (!churn.contains("rate")) {
    return FieldError("plan.churn.rate", "missing (connections closed and reopened per second)");
  }
  const json& rate = churn["rate"];
  if (!rate.is_number() || !std::isfinite(rate.get<double>()) || rate.get<double>() <= 0 ||
      rate.get<double>() > kMaxConnectRate) {
    return WrongType("plan.churn.rate",
                     absl::StrCat("connections per second, a number > 0 and at most ", kMaxConnectRate),
                     rate);
  }
  out->rate = rate.get<double>();
  if (connect_rate > 0 && out->rate > connect_rate) {
    return FieldError("plan.churn.rate",
                      absl::StrCat(out->rate, " reopens per second is more than connect_rate (", connect_rate,
                                   ") allows: reopens are paced by connect_rate; lower churn.rate or raise "
                                   "connect_rate"));
  }
  if (!churn.contains("duration")) {
    return FieldError("plan.churn.duration", "missing (how long churn runs, such as \"60s\")");
  }
  ASSIGN_OR_RETURN(out->duration, ReadDuration(churn["duration"], "plan.churn.duration",
                                               absl::Milliseconds(1), Millis(kMaxChurnDurationMs)));
  return absl::OkStatus();
}

absl::Status ParseReconnect(const json& reconnect, ReconnectPlan* out) {
  if (!reconnect.is_object()) return WrongType("plan.reconnect", "an object", reconnect);
  RETURN_IF_ERROR(CheckKnownFields(reconnect, "plan.reconnect",
                                   {"initial_backoff", "max_backoff", "jitter", "max_attempts"}));
  if (reconnect.contains("initial_backoff")) {
    ASSIGN_OR_RETURN(out->initial_backoff,
                     ReadDuration(reconnect["initial_backoff"], "plan.reconnect.initial_backoff",
                                  absl::Milliseconds(1), Millis(kMaxBackoffMs)));
  }
  if (reconnect.contains("max_backoff")) {
    ASSIGN_OR_RETURN(out->max_backoff, ReadDuration(reconnect["max_backoff"], "plan.reconnect.max_backoff",
                                                    absl::Milliseconds(1), Millis(kMaxBackoffMs)));
  }
  if (out->max_backoff < out->initial_backoff) {
    return FieldError("plan.reconnect.max_backoff",
                      absl::StrCat(DurationToString(out->max_backoff), " is below initial_backoff (",
                                   DurationToString(out->initial_backoff), ")"));
  }
  if (reconnect.contains("jitter")) {
    if (!reconnect["jitter"].is_boolean()) {
      return WrongType("plan.reconnect.jitter", "true or false", reconnect["jitter"]);
    }
    out->jitter = reconnect["jitter"].get<bool>();
  }
  if (reconnect.contains("max_attempts")) {
    ASSIGN_OR_RETURN(const uint64_t attempts,
                     ReadCount(reconnect["max_attempts"], "plan.reconnect.max_attempts", 0, UINT16_MAX));
    out->max_attempts = static_cast<uint32_t>(attempts);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseLoadModels(const json& root, double connect_rate, LoadModelPlan* out) {
  if (root.contains("close")) {
    const json& close = root["close"];
    if (close == "rst") {
      out->close = CloseMode::kRst;
    } else if (close == "fin") {
      out->close = CloseMode::kFin;
    } else {
      return WrongType("plan.close", "\"rst\" (the default: no TIME_WAIT) or \"fin\" (an orderly close)",
                       close);
    }
  }
  if (root.contains("churn")) {
    ChurnPlan churn;
    RETURN_IF_ERROR(ParseChurn(root["churn"], connect_rate, &churn));
    out->churn = churn;
  }
  if (root.contains("reconnect")) {
    ReconnectPlan reconnect;
    RETURN_IF_ERROR(ParseReconnect(root["reconnect"], &reconnect));
    out->reconnect = reconnect;
  }
  return absl::OkStatus();
}

void LoadModelsToJson(const LoadModelPlan& plan, nlohmann::ordered_json* out) {
  (*out)["close"] = plan.close == CloseMode::kFin ? "fin" : "rst";
  if (plan.churn.has_value()) {
    (*out)["churn"]["rate"] = plan.churn->rate;
    (*out)["churn"]["duration"] = DurationToString(plan.churn->duration);
  }
  if (plan.reconnect.has_value()) {
    nlohmann::ordered_json& r = (*out)["reconnect"];
    r["initial_backoff"] = DurationToString(plan.reconnect->initial_backoff);
    r["max_backoff"] = DurationToString(plan.reconnect->max_backoff);
    r["jitter"] = plan.reconnect->jitter;
    r["max_attempts"] = plan.reconnect->max_attempts;
  }
}

std::optional<std::string> TimeWaitWarning(const LoadModelPlan& plan, const std::string& agent,
                                           uint64_t connections, double share, uint64_t port_capacity) {
  if (plan.close != CloseMode::kFin) return std::nullopt;
  const double seconds =
      plan.churn.has_value() ? absl::ToDoubleSeconds(std::min(plan.churn->duration, kTimeWait)) : 0;
  const uint64_t churn_ports =
      plan.churn.has_value() ? static_cast<uint64_t>(std::ceil(plan.churn->rate * share * seconds)) : 0;
  if (churn_ports + connections > port_capacity) {
    return absl::StrCat(
        "agent ", agent, ": close \"fin\" keeps each closed port in TIME_WAIT for 60 s; churn ",
        "holds up to ", FormatCount(churn_ports), " of them at once, and with the ", FormatCount(connections),
        " connections held that is more than the ", FormatCount(port_capacity),
        " source ports available: reopens will fail with EADDRNOTAVAIL. Add source "
        "addresses, lower churn.rate or use close \"rst\"");
  }
  return absl::StrCat("agent ", agent,
                      ": close \"fin\" leaves each closed connection in TIME_WAIT on the agent's ",
                      "host for 60 s (", FormatCount(churn_ports + connections),
                      " ports at most): a run started within a minute has that many fewer source ports");
}

}  // namespace fourtuple::coordinator
