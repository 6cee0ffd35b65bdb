#include "coordinator/what_gave.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/failure_reason.h"
#include "common/human_format.h"
#include "common/terminal_text.h"

namespace fourtuple::coordinator {

using Json = nlohmann::ordered_json;

Json WhatGaveFromRun(const std::map<std::string, uint64_t>& failures,
                     const std::vector<std::string>& timeouts, const std::vector<std::string>& lost_agents) {
  std::map<std::string, std::pair<uint64_t, Json>> by_limit;  // limit -> (failures, reasons)
  for (const auto& [reason, count] : failures) {
    if (count == 0) continue;
    std::string limit(ReasonLimit(reason));
    if (limit.empty()) limit = reason;
    auto& [total, reasons] = by_limit[limit];
    total += count;
    reasons[reason] = count;
  }
  std::vector<std::pair<std::string, std::pair<uint64_t, Json>>> sorted(by_limit.begin(), by_limit.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  Json out = Json::array();
  for (auto& [limit, counted] : sorted) {
    out.push_back({{"limit", limit}, {"failures", counted.first}, {"reasons", std::move(counted.second)}});
  }
  for (const std::string& detail : timeouts) out.push_back({{"limit", "time"}, {"detail", detail}});
  for (const std::string& detail : lost_agents) out.push_back({{"limit", "agent"}, {"detail", detail}});
  return out;
}

Json TargetAtCapacity(uint64_t times) {
  return {
      {"limit", "target"},
      {"detail",
       absl::StrCat("the target ran out of fds: its workers stopped accepting at their connection "
                    "budget ",
                    CountPhrase(times, "time", "times"), " (raise its RLIMIT_NOFILE, or its --processes)")}};
}

Json WhatGaveFromPreflight(const std::vector<std::string>& exceeded_limits) {
  Json out = Json::array();
  for (const std::string& limit : exceeded_limits) out.push_back({{"limit", limit}});
  return out;
}

std::string FormatWhatGave(const Json& what_gave) {
  if (!what_gave.is_array()) return "";
  // A thousand lost agents are a thousand entries: the line names a few.
  constexpr size_t kPartsNamed = 5;
  std::vector<std::string> parts;
  for (const Json& entry : what_gave) {
    if (!entry.is_object() || !entry.contains("limit") || !entry["limit"].is_string()) continue;
    std::string part = EscapeForTerminal(entry["limit"].get<std::string>());
    std::string inside;
    if (entry.contains("reasons") && entry["reasons"].is_object()) {
      for (const auto& item : entry["reasons"].items()) {
        if (!item.value().is_number_unsigned()) continue;
        absl::StrAppend(&inside, inside.empty() ? "" : ", ", FormatCount(item.value().get<uint64_t>()), " x ",
                        EscapeForTerminal(item.key()));
      }
    } else if (entry.contains("detail") && entry["detail"].is_string()) {
      inside = EscapeForTerminal(entry["detail"].get<std::string>());
    }
    if (!inside.empty()) absl::StrAppend(&part, " (", inside, ")");
    parts.push_back(std::move(part));
  }
  return JoinSome(parts, kPartsNamed);
}

}  // namespace fourtuple::coordinator
