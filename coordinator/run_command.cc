#include "coordinator/run_command.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/grpc_credentials.h"
#include "common/logging.h"
#include "common/ready_file.h"
#include "common/terminal_text.h"
#include "coordinator/agent_discovery.h"
#include "coordinator/html_report.h"
#include "coordinator/plan.h"
#include "coordinator/plan_names.h"
#include "coordinator/preflight.h"
#include "coordinator/report.h"
#include "coordinator/run_driver.h"
#include "coordinator/what_gave.h"

namespace fourtuple::coordinator {
namespace {

// Messages quote the plan, agents and servers (host names, addresses they
// report, their replies): escaped, one line each.
void PrintError(absl::string_view message) {
  std::fprintf(stderr, "coordinator: %s\n", EscapeForTerminal(message).c_str());
}

void PrintProblems(absl::string_view prefix, const std::vector<std::string>& problems) {
  for (const std::string& problem : problems) PrintError(absl::StrCat(prefix, problem));
}

std::string NewRunId() {
  std::random_device random;
  return absl::StrFormat("%08x", random());
}

// Loads the plan, expands its dns:/// agents and checks that every other name
// in it resolves; on failure prints why and returns the exit code (2 for a
// bad plan or a name that does not resolve, 3 for a dns:/// agent name that
// does not resolve, like an agent that does not answer), else 0.
int LoadExpandedPlan(const CommandLine& command_line, Plan* out) {
  const std::string path = command_line.Get("plan");
  absl::StatusOr<Plan> plan = LoadPlan(path);
  if (!plan.ok()) {
    PrintError(plan.status().message());
    return kExitUsage;
  }
  plan = ExpandDnsAgents(*std::move(plan));
  if (!plan.ok()) {
    PrintError(absl::StrCat(path, ": ", plan.status().message()));
    return plan.status().code() == absl::StatusCode::kUnavailable ? kExitPreflight : kExitUsage;
  }
  if (absl::Status names = CheckPlanNamesResolve(*plan); !names.ok()) {
    PrintError(absl::StrCat(path, ": ", names.message()));
    return kExitUsage;
  }
  *out = *std::move(plan);
  return 0;
}

// The report must not be lost to a bad path found only after the run: both
// destinations are checked before anything connects. Prints why and returns
// false when one cannot be written.
bool CheckReportPaths(const CommandLine& command_line) {
  bool ok = true;
  // Without --report the report goes to the working directory.
  const std::string report =
      command_line.Has("report") ? command_line.Get("report") : "fourtuple-report.json";
  if (absl::Status status = CheckFileWritable(report); !status.ok()) {
    PrintError(command_line.Has("report")
                   ? absl::StrCat("--report=", report, ": cannot write the report there: ", status.message())
                   : absl::StrCat("cannot write the report in the working directory (", status.message(),
                                  "); --report=FILE names another place"));
    ok = false;
  }
  if (command_line.Has("html")) {
    const std::string html = command_line.Get("html");
    if (absl::Status status = CheckFileWritable(html); !status.ok()) {
      PrintError(absl::StrCat("--html=", html, ": cannot write the page there: ", status.message()));
      ok = false;
    }
  }
  return ok;
}

// Writes a finished run's report (named by `flag`) through `write` to `path`; when that fails after all (the
// directory went away, the disk filled), to a new file in $TMPDIR or /tmp so the run is not lost, and says
// where on stderr. Returns the path written, or why neither worked.
absl::StatusOr<std::string> WriteOrFallBack(absl::string_view flag, const std::string& path,
                                            absl::string_view suffix, absl::string_view run_id,
                                            const std::function<absl::Status(const std::string&)>& write) {
  absl::Status written = write(path);
  if (written.ok()) return path;
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string dir = tmpdir != nullptr && tmpdir[0] == '/' ? tmpdir : "/tmp";
  std::string id(run_id);  // --run-id is free text: keep the name one file in dir
  for (char& c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  std::random_device random;
  // The name is unpredictable and the write goes through a temporary renamed
  // over it, so nothing planted at it is followed.
  const std::string fallback = absl::StrFormat("%s/fourtuple-%s-%08x%s", dir, id, random(), suffix);
  absl::Status second = write(fallback);
  if (!second.ok()) {
    return absl::UnavailableError(absl::StrCat(written.message(), "; nor in ", dir, ": ", second.message()));
  }
  PrintError(absl::StrCat("could not write ", flag, "=", path, " (", written.message(), "); wrote ", fallback,
                          " instead"));
  return fallback;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CredentialsFromCommandLine(
    const CommandLine& command_line) {
  AuthFlags flags;
  flags.token_file = command_line.Get("token-file");
  flags.tls_cert = command_line.Get("tls-cert");
  flags.tls_key = command_line.Get("tls-key");
  flags.tls_ca = command_line.Get("tls-ca");
  return LoadClientCredentials(flags);
}

int ExecutePreflightCommand(const CommandLine& command_line) {
  Plan expanded;
  if (const int code = LoadExpandedPlan(command_line, &expanded); code != 0) return code;
  Plan* plan = &expanded;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      CredentialsFromCommandLine(command_line);
  if (!credentials.ok()) {
    PrintError(credentials.status().message());
    return kExitUsage;
  }
  PreflightResult preflight = RunPreflight(plan, *credentials);
  std::fputs(preflight.table.c_str(), stdout);
  std::fflush(stdout);
  PrintProblems("warning: ", preflight.warnings);
  PrintProblems("", preflight.unreachable);
  PrintProblems("", preflight.errors);
  return preflight.ok() ? kExitPass : kExitPreflight;
}

int ExecuteRunCommand(const CommandLine& command_line, const std::atomic<bool>* stop) {
  if (!CheckReportPaths(command_line)) return kExitUsage;
  Plan expanded;
  if (const int code = LoadExpandedPlan(command_line, &expanded); code != 0) return code;
  Plan* plan = &expanded;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> loaded = CredentialsFromCommandLine(command_line);
  if (!loaded.ok()) {
    PrintError(loaded.status().message());
    return kExitUsage;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = *loaded;

  // Preflight: every agent must answer, and each share must fit its host
  // (unless --force: the limits are estimates, and finding where a host
  // really gives up is a use of this tool).
  PreflightResult preflight = RunPreflight(plan, credentials);
  PrintProblems("warning: ", preflight.warnings);
  if (!preflight.unreachable.empty()) {
    PrintProblems("", preflight.unreachable);
    return kExitPreflight;
  }
  if (!preflight.errors.empty()) {
    std::fputs(preflight.table.c_str(), stderr);
    PrintProblems("", preflight.errors);
    if (!command_line.Has("force")) {
      PrintError("preflight failed; --force runs the plan anyway");
      // The report of a refused run says what gave, for scripts that run
      // upward until something does.
      if (command_line.Has("report")) {
        const std::string refused_path = command_line.Get("report");
        const nlohmann::ordered_json refused = RefusedReport(*plan, preflight);
        absl::Status written = WriteReport(refused_path, refused);
        std::fprintf(stderr, "coordinator: what gave: %s; report: %s\n",
                     FormatWhatGave(refused["what_gave"]).c_str(),
                     written.ok() ? refused_path.c_str() : std::string(written.message()).c_str());
      }
      return kExitPreflight;
    }
    LOG_WARNING("preflight failed, running anyway (--force)");
  }

  RunOptions options;
  options.plan = *plan;
  options.run_id = command_line.Has("run-id") ? command_line.Get("run-id") : NewRunId();
  options.known_facts = std::move(preflight.facts);
  options.credentials = credentials;
  options.stop = stop;
  // A status block redrawn in place reads well on a terminal only; logs and
  // CI get one plain line per interval.
  options.terminal = isatty(STDERR_FILENO) == 1;
  const std::string report_path = command_line.Has("report")
                                      ? command_line.Get("report")
                                      : absl::StrCat("fourtuple-report-", options.run_id, ".json");

  absl::StatusOr<RunRecord> record = DriveRun(options);
  if (!record.ok()) {
    // One problem a line, escaped already (run_driver.h).
    std::fprintf(stderr, "coordinator: the run did not start:\n%s\n",
                 std::string(record.status().message()).c_str());
    if (record.status().code() == absl::StatusCode::kCancelled) return kExitFail;
    // Refused at the start (an agent busy with another run, say): reported
    // like a run preflight refused, naming the agents.
    if (command_line.Has("report")) {
      const std::vector<std::string> problems = absl::StrSplit(record.status().message(), '\n');
      const nlohmann::ordered_json refused = RefusedStartReport(*plan, problems);
      absl::Status written = WriteReport(report_path, refused);
      std::fprintf(stderr, "coordinator: what gave: %s; report: %s\n",
                   FormatWhatGave(refused["what_gave"]).c_str(),
                   written.ok() ? report_path.c_str() : std::string(written.message()).c_str());
    }
    return kExitPreflight;
  }
  const Report report = BuildReport(*record);
  std::fputs(FormatSummary(report.json).c_str(), stdout);
  // Checked before the run, but it may have changed since: the report is
  // then written elsewhere, and the exit code says it is not where asked.
  absl::StatusOr<std::string> written =
      WriteOrFallBack("--report", report_path, ".json", options.run_id,
                      [&report](const std::string& path) { return WriteReport(path, report.json); });
  if (!written.ok()) {
    std::fprintf(stdout, "report: NOT WRITTEN (%s)\n", std::string(written.status().message()).c_str());
    std::fflush(stdout);
    return kExitFail;
  }
  bool misplaced = *written != report_path;
  std::fprintf(stdout, "report: %s\n", written->c_str());
  if (command_line.Has("html")) {
    absl::StatusOr<std::string> html =
        WriteOrFallBack("--html", command_line.Get("html"), ".html", options.run_id,
                        [page = RenderHtmlReport(report.json)](const std::string& path) {
                          return WriteFileAtomically(path, page);
                        });
    if (!html.ok()) {
      std::fprintf(stdout, "html report: NOT WRITTEN (%s)\n", std::string(html.status().message()).c_str());
      std::fflush(stdout);
      return kExitFail;
    }
    misplaced = misplaced || *html != command_line.Get("html");
    std::fprintf(stdout, "html report: %s\n", html->c_str());
  }
  if (misplaced) {
    std::fflush(stdout);
    return kExitFail;
  }
  std::fflush(stdout);
  return report.pass ? kExitPass : kExitFail;
}

}  // namespace fourtuple::coordinator
