#include "coordinator/failure_samples.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/failure_sample.h"
#include "common/terminal_text.h"

namespace fourtuple::coordinator {

ReportJson FailureSamplesJson(const google::protobuf::Map<std::string, std::string>& samples) {
  const std::map<std::string, std::string> sorted(samples.begin(), samples.end());
  ReportJson out = ReportJson::object();
  for (const auto& [reason, bytes] : sorted) out[reason] = EscapeSample(bytes);
  return out;
}

std::map<std::string, std::string> FirstSamples(const ReportJson& agents) {
  std::map<std::string, std::string> first;
  if (!agents.is_array()) return first;
  for (const ReportJson& agent : agents) {
    if (!agent.is_object()) continue;
    auto samples = agent.find("failure_samples");
    if (samples == agent.end() || !samples->is_object()) continue;
    for (auto it = samples->begin(); it != samples->end(); ++it) {
      if (it.value().is_string()) first.emplace(it.key(), it.value().get<std::string>());
    }
  }
  return first;
}

std::string FormatSampleLine(size_t indent, absl::string_view sample) {
  return absl::StrCat("  ", std::string(indent, ' '), " reply: \"", EscapeForTerminal(sample), "\"");
}

std::string FormatSampleAnnouncement(double elapsed_seconds, absl::string_view agent,
                                     absl::string_view reason, absl::string_view raw_sample) {
  return absl::StrFormat("[%7.1fs] agent %s: %s, the target said: \"%s\"", elapsed_seconds,
                         EscapeForTerminal(agent), EscapeForTerminal(reason), EscapeSample(raw_sample));
}

}  // namespace fourtuple::coordinator
