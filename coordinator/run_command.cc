#include "coordinator/run_command.h"

#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "coordinator/plan.h"
#include "coordinator/preflight.h"
#include "coordinator/report.h"
#include "coordinator/run_driver.h"

namespace fourtuple::coordinator {
namespace {

void PrintProblems(const std::vector<std::string>& problems) {
  for (const std::string& problem : problems) {
    std::fprintf(stderr, "coordinator: %s\n", problem.c_str());
  }
}

std::string NewRunId() {
  std::random_device random;
  return absl::StrFormat("%08x", random());
}

}  // namespace

int RunPreflightCommand(const CommandLine& command_line) {
  absl::StatusOr<Plan> plan = LoadPlan(command_line.Get("plan"));
  if (!plan.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", std::string(plan.status().message()).c_str());
    return kExitUsage;
  }
  PreflightResult preflight = RunPreflight(*plan, grpc::InsecureChannelCredentials());
  std::fputs(preflight.table.c_str(), stdout);
  std::fflush(stdout);
  PrintProblems(preflight.problems);
  return preflight.problems.empty() ? kExitPass : kExitPreflight;
}

int RunRunCommand(const CommandLine& command_line, const std::atomic<bool>* stop) {
  absl::StatusOr<Plan> plan = LoadPlan(command_line.Get("plan"));
  if (!plan.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", std::string(plan.status().message()).c_str());
    return kExitUsage;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();

  // Preflight: every agent must answer, and each share must fit its host.
  PreflightResult preflight = RunPreflight(*plan, credentials);
  if (!preflight.problems.empty()) {
    std::fputs(preflight.table.c_str(), stderr);
    PrintProblems(preflight.problems);
    bool only_capacity = true;
    for (const std::string& problem : preflight.problems) {
      only_capacity = only_capacity && problem.find("unreachable") == std::string::npos;
    }
    if (!only_capacity || !command_line.Has("force")) {
      if (only_capacity) std::fprintf(stderr, "coordinator: --force runs it anyway\n");
      return kExitPreflight;
    }
    LOG_WARNING("over capacity, running anyway (--force)");
  }

  RunOptions options;
  options.plan = *plan;
  options.run_id = command_line.Has("run-id") ? command_line.Get("run-id") : NewRunId();
  options.credentials = credentials;
  options.stop = stop;
  const std::string report_path = command_line.Has("report")
                                      ? command_line.Get("report")
                                      : absl::StrCat("fourtuple-report-", options.run_id, ".json");

  absl::StatusOr<RunRecord> record = DriveRun(options);
  if (!record.ok()) {
    std::fprintf(stderr, "coordinator: the run did not start:\n%s\n",
                 std::string(record.status().message()).c_str());
    return record.status().code() == absl::StatusCode::kCancelled ? kExitFail : kExitPreflight;
  }
  const Report report = BuildReport(*record);
  std::fputs(FormatSummary(report.json).c_str(), stdout);
  absl::Status written = WriteReport(report_path, report.json);
  if (!written.ok()) {
    std::fprintf(stdout, "report: NOT WRITTEN (%s)\n", std::string(written.message()).c_str());
    std::fflush(stdout);
    return kExitFail;
  }
  std::fprintf(stdout, "report: %s\n", report_path.c_str());
  std::fflush(stdout);
  return report.pass ? kExitPass : kExitFail;
}

}  // namespace fourtuple::coordinator
