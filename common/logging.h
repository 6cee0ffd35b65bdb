// Minimal logging to stderr (Debian's Abseil has no absl/log).
// Thread-safe: each call writes one line with a single write(2).
#ifndef FOURTUPLE_COMMON_LOGGING_H_
#define FOURTUPLE_COMMON_LOGGING_H_

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes "<program>[pid] I|W|E message\n" to stderr.
void LogLine(LogSeverity severity, absl::string_view message);

// The program name printed with every line; set once from main().
void SetLogProgramName(absl::string_view name);

}  // namespace fourtuple

#define LOG_INFO(...) \
  ::fourtuple::LogLine(::fourtuple::LogSeverity::kInfo, absl::StrFormat(__VA_ARGS__))
#define LOG_WARNING(...) \
  ::fourtuple::LogLine(::fourtuple::LogSeverity::kWarning, absl::StrFormat(__VA_ARGS__))
#define LOG_ERROR(...) \
  ::fourtuple::LogLine(::fourtuple::LogSeverity::kError, absl::StrFormat(__VA_ARGS__))

#endif  // FOURTUPLE_COMMON_LOGGING_H_
