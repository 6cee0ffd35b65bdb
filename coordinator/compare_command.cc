#include "coordinator/compare_command.h"

#include <cstdio>
#include <functional>
#include <optional>
#include <set>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/human_format.h"
#include "coordinator/report_command.h"
#include "coordinator/run_command.h"
#include "coordinator/text_table.h"

namespace fourtuple::coordinator {
namespace {

using Formatter = std::function<std::string(double)>;
using Lookup = std::function<std::optional<double>(const ReportJson&)>;

std::string Count(double value) { return FormatCount(static_cast<uint64_t>(value)); }
std::string Milliseconds(double value) { return absl::StrCat(FormatNumber(value), " ms"); }

// The figure at a path of object keys.
Lookup At(std::vector<const char*> path) {
  return [path = std::move(path)](const ReportJson& report) -> std::optional<double> {
    const ReportJson* value = &report;
    for (const char* key : path) value = FindField(value, key);
    return NonNegativeNumber(value);
  };
}

// The sum of a host fact over the agents that have it; none when no agent
// has it.
Lookup AgentsSum(const char* fact) {
  return [fact](const ReportJson& report) -> std::optional<double> {
    const ReportJson* agents = FindField(&report, "agents");
    std::optional<double> sum;
    for (size_t i = 0; i < ArraySize(agents); ++i) {
      std::optional<double> value =
          NonNegativeNumber(FindField(FindField(ElementAt(agents, i), "host_facts"), fact));
      if (value.has_value()) sum = sum.value_or(0) + *value;
    }
    return sum;
  };
}

std::vector<std::string> Row(const std::string& label, std::optional<double> a, std::optional<double> b,
                             const Formatter& format) {
  std::string ratio;
  if (a.has_value() && b.has_value() && *a > 0) ratio = absl::StrCat(FormatNumber(*b / *a), "x");
  return {label, a.has_value() ? format(*a) : "-", b.has_value() ? format(*b) : "-", ratio};
}

std::string Outcome(const ReportJson& report) {
  const std::string* outcome = StringValue(FindField(&report, "outcome"));
  return outcome == nullptr ? "-" : *outcome;
}

}  // namespace

std::vector<std::vector<std::string>> CompareReports(const ReportJson& a, const ReportJson& b,
                                                     const std::string& name_a, const std::string& name_b) {
  std::vector<std::vector<std::string>> rows = {{"", name_a, name_b, "B/A"}};
  rows.push_back({"outcome", Outcome(a), Outcome(b), ""});
  auto add = [&](const std::string& label, const Lookup& lookup, const Formatter& format,
                 bool only_when_present = false) {
    std::optional<double> value_a = lookup(a), value_b = lookup(b);
    if (only_when_present && !value_a.has_value() && !value_b.has_value()) return;
    rows.push_back(Row(label, value_a, value_b, format));
  };
  add("requested", At({"totals", "requested"}), Count);
  add("established", At({"totals", "established"}), Count);
  add("failed", At({"totals", "failed"}), Count);
  add("peak open", At({"totals", "peak_open"}), Count);
  add("connect rate", At({"totals", "connect_rate"}), FormatRate);
  add("connect time", At({"totals", "connect_seconds"}), FormatSeconds);
  add("echo verified", At({"totals", "echo_verified"}), Count);
  add("echo failed", At({"totals", "echo_failed"}), Count);
  add("echo rate", At({"totals", "echo_rate"}), FormatRate);
  add("echo time", At({"totals", "echo_seconds"}), FormatSeconds);
  for (const char* kind : {"connect", "connect_queue", "echo_rtt"}) {
    for (const auto& [key, name] : std::vector<std::pair<const char*, const char*>>{
             {"p50", "p50"}, {"p99", "p99"}, {"p999", "p99.9"}, {"max", "max"}}) {
      add(absl::StrCat(kind, " ", name), At({"latency_ms", kind, key}), Milliseconds);
    }
  }
  add("target open at peak", At({"target", "open_at_peak"}), Count, true);
  add("target accepted", At({"target", "accepted"}), Count, true);
  add("agents' memory", AgentsSum("memory_total_bytes"), FormatBytes, true);
  add("agents' memory available", AgentsSum("memory_available_bytes"), FormatBytes, true);

  // Every reason either run saw, sorted; a reason one run did not see
  // counts zero there when that run has a failures map at all.
  std::set<std::string> reasons;
  for (const ReportJson* report : {&a, &b}) {
    const ReportJson* failures = FindField(report, "failures");
    if (failures == nullptr || !failures->is_object()) continue;
    for (const auto& item : failures->items()) reasons.insert(item.key());
  }
  for (const std::string& reason : reasons) {
    Lookup lookup = [&reason](const ReportJson& report) -> std::optional<double> {
      const ReportJson* failures = FindField(&report, "failures");
      if (failures == nullptr || !failures->is_object()) return std::nullopt;
      const ReportJson* count = FindField(failures, reason.c_str());
      return count == nullptr ? std::optional<double>(0) : NonNegativeNumber(count);
    };
    add(absl::StrCat("failures ", reason), lookup, Count);
  }
  return rows;
}

int ExecuteCompareCommand(const CommandLine& command_line) {
  std::vector<ReportJson> reports;
  for (const std::string& path : command_line.files) {
    absl::StatusOr<ReportJson> report = LoadReportFile(path);
    if (!report.ok()) {
      std::fprintf(stderr, "coordinator: %s\n", std::string(report.status().message()).c_str());
      return kExitUsage;
    }
    reports.push_back(*std::move(report));
  }
  const std::vector<std::vector<std::string>> rows =
      CompareReports(reports.at(0), reports.at(1), command_line.files.at(0), command_line.files.at(1));
  std::fputs(FormatTextTable(rows, {false, true, true, true}).c_str(), stdout);
  return kExitPass;
}

}  // namespace fourtuple::coordinator
