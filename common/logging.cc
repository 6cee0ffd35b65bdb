#include "common/logging.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace fourtuple {
namespace {
// Written once by main() before any thread starts.
std::string& ProgramName() {
  static std::string* name = new std::string("fourtuple");
  return *name;
}
}  // namespace

void SetLogProgramName(absl::string_view name) { ProgramName() = std::string(name); }

void LogLine(LogSeverity severity, absl::string_view message) {
  const char* tag = severity == LogSeverity::kInfo      ? "I"
                    : severity == LogSeverity::kWarning ? "W"
                                                        : "E";
  std::string line = absl::StrCat(ProgramName(), "[", getpid(), "] ", tag, " ", message, "\n");
  // One write so lines from many processes do not interleave.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace fourtuple
