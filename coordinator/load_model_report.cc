#include "coordinator/load_model_report.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/histogram.h"
#include "common/human_format.h"
#include "common/terminal_text.h"

namespace fourtuple::coordinator {
namespace {

using Json = nlohmann::ordered_json;

double Round3(double value) { return std::round(value * 1000.0) / 1000.0; }

struct Sums {
  uint64_t churned = 0, reconnected = 0, drops = 0, round_verified = 0, mismatched = 0;
  uint64_t longest_outage_us = 0;
  std::map<std::string, uint64_t> failures;
  Histogram recovery;
};

Sums SumAgents(const RunRecord& record) {
  Sums sums;
  for (const AgentRecord& agent : record.agents) {
    const v1::RunReport& last = agent.last;
    sums.churned += last.churned();
    sums.reconnected += last.reconnected();
    sums.drops += last.drops();
    sums.round_verified += last.round_verified();
    sums.mismatched += last.echo_mismatched();
    sums.longest_outage_us = std::max(sums.longest_outage_us, last.longest_outage_us());
    for (const auto& [reason, count] : last.reconnect_failures()) sums.failures[reason] += count;
    sums.recovery.Merge(last.recovery());
  }
  return sums;
}

}  // namespace

bool UsesLoadModelPassRule(const Plan& plan) { return plan.load.any(); }

std::vector<std::string> LoadModelFailReasons(const RunRecord& record, uint64_t requested) {
  std::vector<std::string> reasons;
  const Sums sums = SumAgents(record);
  if (record.open_at_end < requested) {
    std::string given_up;
    uint64_t gave_up = 0;
    for (const auto& [reason, count] : sums.failures) gave_up += count;
    reasons.push_back(absl::StrCat(FormatCount(record.open_at_end), " of ", FormatCount(requested),
                                   " connections open at the end of the hold (", FormatCount(sums.drops),
                                   " dropped, ", FormatCount(sums.reconnected), " reconnected, ",
                                   FormatCount(gave_up), " given up)"));
  }
  if (record.plan.echo.rounds > 0 && !record.interrupted && sums.round_verified < requested) {
    reasons.push_back(absl::StrCat("the last echo round verified ", FormatCount(sums.round_verified), " of ",
                                   FormatCount(requested), " connections"));
  }
  if (sums.mismatched > 0) {
    reasons.push_back(absl::StrCat(FormatCount(sums.mismatched), " echo replies did not match"));
  }
  return reasons;
}

void AddLoadModelReport(const RunRecord& record, Json* report) {
  if (!record.plan.load.any()) return;
  const Sums sums = SumAgents(record);
  Json& totals = (*report)["totals"];
  totals["churned"] = sums.churned;
  totals["reconnected"] = sums.reconnected;
  totals["open_at_end"] = record.open_at_end;
  Json& failures = (*report)["reconnect_failures"];
  failures = Json::object();
  for (const auto& [reason, count] : sums.failures) failures[reason] = count;
  Json& recovery = (*report)["recovery"];
  recovery["drops"] = sums.drops;
  const Histogram& h = sums.recovery;
  recovery["seconds_to_recover"] = {{"p50", Round3(h.PercentileUs(0.50) / 1e6)},
                                    {"p99", Round3(h.PercentileUs(0.99) / 1e6)},
                                    {"max", Round3(h.max_us() / 1e6)}};
  // From a worker's first drop to every one of its connections open again,
  // the longest over workers: a restart drops everything at once, so this
  // is the whole storm's length.
  recovery["seconds_to_all_open"] = Round3(static_cast<double>(sums.longest_outage_us) / 1e6);
  if (record.target.has_value() && record.target->queried) {
    (*report)["target"]["restarts"] = record.target->restarts;
    (*report)["target"]["unanswered_polls"] = record.target->unanswered;
  }
}

std::string FormatLoadModelSummary(const Json& report) {
  if (!report.is_object() || !report.contains("recovery") || !report["recovery"].is_object()) return "";
  auto u = [](const Json& object, const char* key) -> uint64_t {
    auto it = object.find(key);
    return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
  };
  auto d = [](const Json& object, const char* key) -> double {
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  const Json& totals = report.contains("totals") && report["totals"].is_object() ? report["totals"] : Json();
  const Json& recovery = report["recovery"];
  const Json& seconds = recovery.contains("seconds_to_recover") && recovery["seconds_to_recover"].is_object()
                            ? recovery["seconds_to_recover"]
                            : Json::object();
  std::string out =
      absl::StrCat("churn and reconnect: ", FormatCount(u(totals, "churned")), " churned, ",
                   FormatCount(u(recovery, "drops")), " dropped, ", FormatCount(u(totals, "reconnected")),
                   " reconnected, open at the end ", FormatCount(u(totals, "open_at_end")), "\n");
  if (u(recovery, "drops") > 0) {
    absl::StrAppend(&out, "recovery: p50 ", FormatSeconds(d(seconds, "p50")), ", p99 ",
                    FormatSeconds(d(seconds, "p99")), ", max ", FormatSeconds(d(seconds, "max")),
                    "; all open again after ", FormatSeconds(d(recovery, "seconds_to_all_open")), "\n");
  }
  if (report.contains("reconnect_failures") && report["reconnect_failures"].is_object()) {
    for (const auto& item : report["reconnect_failures"].items()) {
      if (!item.value().is_number_unsigned()) continue;
      absl::StrAppend(&out, "  reconnects given up, ", EscapeForTerminal(item.key()), ": ",
                      FormatCount(item.value().get<uint64_t>()), "\n");
    }
  }
  return out;
}

}  // namespace fourtuple::coordinator
