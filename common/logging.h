// Minimal logging to stderr (Debian's Abseil has no absl/log).
// Every line is one line, whatever its message holds: messages quote text
// from elsewhere (a caller's run id, a peer's error), so control characters
// are escaped (terminal_text.h) and a message is cut at kMaxLogMessageBytes.
// Thread-safe: each call writes one line with a single write(2), or hands it
// whole to the log sink when one is set.
#ifndef FOURTUPLE_COMMON_LOGGING_H_
#define FOURTUPLE_COMMON_LOGGING_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace fourtuple {

enum class LogSeverity { kInfo, kWarning, kError };

// Longer messages are cut there, and say how much was left out.
inline constexpr size_t kMaxLogMessageBytes = 2048;

// Writes "<program>[pid] I|W|E message\n" to stderr (or to the log sink),
// the message escaped and cut (LogMessageText).
void LogLine(LogSeverity severity, absl::string_view message);

// What LogLine writes for `message`: control characters escaped
// (EscapeForTerminal), at most kMaxLogMessageBytes of it, then
// " [... N more bytes]" when it was longer.
std::string LogMessageText(absl::string_view message);

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
