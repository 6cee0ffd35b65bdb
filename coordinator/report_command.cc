#include "coordinator/report_command.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/read_file.h"
#include "common/ready_file.h"
#include "coordinator/html_report.h"
#include "coordinator/report.h"
#include "coordinator/run_command.h"
#include "coordinator/strict_json.h"

namespace fourtuple::coordinator {

absl::Status CheckReportFormat(const ReportJson& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("holds ", DescribeJsonValue(json), ", not an object: not a fourtuple report"));
  }
  const ReportJson* format = FindField(&json, "format");
  if (format == nullptr) {
    // Reports written before the format fields existed lack them too; they
    // are not told apart from other JSON on purpose: guessing could render
    // anything.
    return absl::InvalidArgumentError("has no \"format\" field: not a fourtuple report");
  }
  const std::string* name = StringValue(format);
  if (name == nullptr || *name != kReportFormat) {
    return absl::InvalidArgumentError(absl::StrCat("has \"format\": ", DescribeJsonValue(*format), ", not \"",
                                                   kReportFormat, "\": not a fourtuple report"));
  }
  const ReportJson* version = FindField(&json, "format_version");
  if (version == nullptr || !version->is_number_integer() || version->get<int64_t>() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("has no \"format_version\" (a whole number from 1): ",
                     version == nullptr ? "missing" : DescribeJsonValue(*version)));
  }
  if (version->get<int64_t>() > kReportFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("is format version ", version->get<int64_t>(),
                                                   ", newer than this coordinator reads (",
                                                   kReportFormatVersion, "): use a newer coordinator"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReportJson> LoadReportFile(const std::string& path) {
  absl::StatusOr<FileContents> contents = ReadRegularFile(path, kMaxReportFileBytes, "a JSON report");
  if (!contents.ok()) return contents.status();
  ReportJson json;
  try {
    json = ReportJson::parse(contents->text);
  } catch (const nlohmann::json::parse_error& error) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not JSON: ", error.what()));
  }
  if (absl::Status status = CheckReportFormat(json); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " ", status.message()));
  }
  return json;
}

int ExecuteReportCommand(const CommandLine& command_line) {
  absl::StatusOr<ReportJson> report = LoadReportFile(command_line.files.at(0));
  if (!report.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", std::string(report.status().message()).c_str());
    return kExitUsage;
  }
  std::fputs(FormatSummary(*report).c_str(), stdout);
  if (command_line.Has("html")) {
    const std::string path = command_line.Get("html");
    if (absl::Status status = WriteFileAtomically(path, RenderHtmlReport(*report)); !status.ok()) {
      std::fprintf(stderr, "coordinator: --html=%s: cannot write the page there: %s\n", path.c_str(),
                   std::string(status.message()).c_str());
      return kExitUsage;
    }
    std::fprintf(stdout, "html report: %s\n", path.c_str());
  }
  return kExitPass;
}

}  // namespace fourtuple::coordinator
