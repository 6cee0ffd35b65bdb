// Minimal logging to stderr (Debian's Abseil has no absl/log).
// Thread-safe: each call writes one line with a single write(2), or hands it
// whole to the log sink when one is set.
#ifndef FOURTUPLE_COMMON_LOGGING_H_
#define FOURTUPLE_COMMON_LOGGING_H_

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes "<program>[pid] I|W|E message\n" to stderr (or to the log sink).
void LogLine(LogSeverity severity, absl::string_view message);

// The program name printed with every line; set once from main().
void SetLogProgramName(absl::string_view name);

// Takes log lines instead of stderr: for output that shares the terminal
// with them and must not be overdrawn, such as a status block redrawn in
// place (it erases itself, prints the line, and draws itself again below).
class LogSink {
 public:
  virtual ~LogSink() = default;
  // One whole line, ending in '\n'. Called from any thread, one call at a
  // time (under the logging lock): it must not log, nor call SetLogSink.
  virtual void WriteLogLine(absl::string_view line) = 0;
};

// Sends every later log line of this process to `sink`; nullptr sends them
// to stderr again. When it returns no line is being written to the previous
// sink, which may then be destroyed.
void SetLogSink(LogSink* sink);

// The sink set now, or nullptr.
LogSink* GetLogSink();

}  // namespace fourtuple

#define LOG_INFO(...) ::fourtuple::LogLine(::fourtuple::LogSeverity::kInfo, absl::StrFormat(__VA_ARGS__))
#define LOG_WARNING(...) \
  ::fourtuple::LogLine(::fourtuple::LogSeverity::kWarning, absl::StrFormat(__VA_ARGS__))
#define LOG_ERROR(...) ::fourtuple::LogLine(::fourtuple::LogSeverity::kError, absl::StrFormat(__VA_ARGS__))

#endif  // FOURTUPLE_COMMON_LOGGING_H_
