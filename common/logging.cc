#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/terminal_text.h"

namespace fourtuple {
namespace {
// Written once by main() before any thread starts.
std::string& ProgramName() {
  static std::string* name = new std::string("fourtuple");
  return *name;
}

// The sink, if any. Lines without one never take the lock: the agent's and
// target-server's processes log with none set, and a forked child must not
// inherit a held lock.
ABSL_CONST_INIT absl::Mutex sink_mu(absl::kConstInit);
LogSink* sink ABSL_GUARDED_BY(sink_mu) = nullptr;
std::atomic<bool> have_sink{false};
}  // namespace

void SetLogProgramName(absl::string_view name) { ProgramName() = std::string(name); }

void SetLogSink(LogSink* new_sink) {
  absl::MutexLock lock(&sink_mu);
  sink = new_sink;
  have_sink.store(new_sink != nullptr);
}

LogSink* GetLogSink() {
  absl::MutexLock lock(&sink_mu);
  return sink;
}

std::string LogMessageText(absl::string_view message) {
  if (message.size() <= kMaxLogMessageBytes) return EscapeForTerminal(message);
  size_t cut = kMaxLogMessageBytes;
  // Not inside a UTF-8 sequence, which would show as escaped bytes.
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(EscapeForTerminal(message.substr(0, cut)), " [... ", message.size() - cut,
                      " more bytes]");
}

void LogLine(LogSeverity severity, absl::string_view message) {
  const char* tag = severity == LogSeverity::kInfo ? "I" : severity == LogSeverity::kWarning ? "W" : "E";
  std::string line =
      absl::StrCat(ProgramName(), "[", getpid(), "] ", tag, " ", LogMessageText(message), "\n");
  if (have_sink.load()) {
    absl::MutexLock lock(&sink_mu);
    if (sink != nullptr) {
      sink->WriteLogLine(line);
      return;
    }
  }
  // One write so lines from many processes do not interleave.
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace fourtuple
