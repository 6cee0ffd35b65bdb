#include "coordinator/progress.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/failure_reason.h"
#include "common/human_format.h"
#include "common/terminal_text.h"
#include "coordinator/display_width.h"

namespace fourtuple::coordinator {
namespace {

std::string Stamp(double elapsed_seconds) { return absl::StrFormat("[%7.1fs]", elapsed_seconds); }

uint64_t EchoExpected(const ProgressSnapshot& snapshot) {
  return static_cast<uint64_t>(snapshot.echo_rounds) * snapshot.requested;
}

// `text` padded with spaces to `width` terminal columns, on the left
// (right-aligned) or on the right.
std::string PadLeft(const std::string& text, size_t width) {
  const size_t columns = DisplayWidth(text);
  return columns >= width ? text : std::string(width - columns, ' ') + text;
}

std::string PadRight(const std::string& text, size_t width) {
  const size_t columns = DisplayWidth(text);
  return columns >= width ? text : text + std::string(width - columns, ' ');
}

// Sorts the agents furthest behind first: those out of the run (lost,
// failed), then by the share of their connections established, then by
// their failures, most first.
std::tuple<bool, double, int64_t> BehindKey(const AgentProgress& a) {
  const bool in_run = a.state != "lost" && a.state != "failed";
  const double share =
      a.requested == 0 ? 1.0 : static_cast<double>(a.established) / static_cast<double>(a.requested);
  return {in_run, share, -static_cast<int64_t>(a.failed)};
}

}  // namespace

double ConnectRate::Sample(double elapsed_seconds, uint64_t established) {
  double rate = 0;
  if (elapsed_seconds > previous_seconds_ && established >= previous_established_) {
    rate = static_cast<double>(established - previous_established_) / (elapsed_seconds - previous_seconds_);
  }
  previous_seconds_ = elapsed_seconds;
  previous_established_ = established;
  return rate;
}

std::string FormatLoadModelProgress(const ProgressSnapshot& s) {
  if (!s.load_models.has_value()) return "";
  const ProgressSnapshot::LoadModels& m = *s.load_models;
  return absl::StrFormat("  drops %s  reconnected %s (%s)  reopening %s  churned %s", FormatCount(m.drops),
                         FormatCount(m.reconnected), FormatRate(m.reconnect_rate), FormatCount(m.reopening),
                         FormatCount(m.churned));
}

std::string FormatProgressLine(const ProgressSnapshot& s) {
  const ProgressCounts& t = s.totals;
  std::string line =
      absl::StrFormat("%s %-8s open %s  established %s/%s  failed %s  rate %s  echo verified %s/%s",
                      Stamp(s.elapsed_seconds), s.phase, FormatCount(t.open), FormatCount(t.established),
                      FormatCount(s.requested), FormatCount(t.failed), FormatRate(s.connect_rate),
                      FormatCount(t.echo_verified), FormatCount(EchoExpected(s)));
  absl::StrAppend(&line, FormatLoadModelProgress(s));
  if (s.phase == "assign") {
    absl::StrAppend(&line, "  agents ready ", FormatCount(s.agents_ready), "/", FormatCount(s.agents.size()));
  }
  return line;
}

std::string FormatProgressFrame(const ProgressSnapshot& s, int width) {
  const ProgressCounts& t = s.totals;
  const size_t bar_width = static_cast<size_t>(std::max(width, 1));
  const double fraction =
      s.requested == 0 ? 0.0
                       : std::min(1.0, static_cast<double>(t.established) / static_cast<double>(s.requested));
  const size_t filled = static_cast<size_t>(fraction * static_cast<double>(bar_width));
  const std::string bar = std::string(filled, '#') + std::string(bar_width - filled, '.');

  std::string out =
      absl::StrFormat("%s %-8s [%s] %5.1f%%  %s/%s established\n", Stamp(s.elapsed_seconds), s.phase, bar,
                      fraction * 100.0, FormatCount(t.established), FormatCount(s.requested));
  absl::StrAppendFormat(&out, "  open %s  failed %s  rate %s  echo verified %s/%s (round %d of %d done)\n",
                        FormatCount(t.open), FormatCount(t.failed), FormatRate(s.connect_rate),
                        FormatCount(t.echo_verified), FormatCount(EchoExpected(s)), s.echo_rounds_done,
                        s.echo_rounds);
  if (s.load_models.has_value()) absl::StrAppend(&out, " ", FormatLoadModelProgress(s), "\n");

  // Which agents get a line: all of them, or past kMaxAgentLines a count per
  // state and the ones furthest behind.
  std::vector<const AgentProgress*> shown;
  for (const AgentProgress& a : s.agents) shown.push_back(&a);
  if (shown.size() > kMaxAgentLines) {
    std::map<std::string, size_t> by_state;
    for (const AgentProgress& a : s.agents) ++by_state[a.state];
    std::string states;
    for (const auto& [state, count] : by_state) {
      absl::StrAppend(&states, states.empty() ? "" : ", ", FormatCount(count), " ", EscapeForTerminal(state));
    }
    absl::StrAppend(&out, "  ", CountPhrase(s.agents.size(), "agent", "agents"), ": ", states,
                    "; furthest behind:\n");
    std::stable_sort(shown.begin(), shown.end(), [](const AgentProgress* a, const AgentProgress* b) {
      return BehindKey(*a) < BehindKey(*b);
    });
    shown.resize(kMaxAgentLines);
  }

  // One aligned line per agent shown: names and states padded, counts right-aligned.
  std::vector<std::string> names, states;
  for (const AgentProgress* a : shown) {
    names.push_back(EscapeForTerminal(a->name));
    states.push_back(EscapeForTerminal(a->state));
  }
  size_t name_w = 0, state_w = 0, open_w = 0, est_w = 0, failed_w = 0, echo_w = 0;
  for (size_t i = 0; i < shown.size(); ++i) {
    const AgentProgress& a = *shown[i];
    name_w = std::max(name_w, DisplayWidth(names[i]));
    state_w = std::max(state_w, DisplayWidth(states[i]));
    open_w = std::max(open_w, FormatCount(a.open).size());
    est_w = std::max(est_w, FormatCount(a.established).size() + 1 + FormatCount(a.requested).size());
    failed_w = std::max(failed_w, FormatCount(a.failed).size());
    echo_w = std::max(echo_w, FormatCount(a.echo_verified).size());
  }
  for (size_t i = 0; i < shown.size(); ++i) {
    const AgentProgress& a = *shown[i];
    absl::StrAppend(&out, "  ", PadRight(names[i], name_w), "  ", PadRight(states[i], state_w), "  open ",
                    PadLeft(FormatCount(a.open), open_w), "  established ",
                    PadLeft(absl::StrCat(FormatCount(a.established), "/", FormatCount(a.requested)), est_w),
                    "  failed ", PadLeft(FormatCount(a.failed), failed_w), "  echo verified ",
                    PadLeft(FormatCount(a.echo_verified), echo_w), "\n");
  }
  return out;
}

std::string FormatFailureLine(double elapsed_seconds, absl::string_view agent, absl::string_view reason) {
  std::string line = absl::StrCat(Stamp(elapsed_seconds), " agent ", EscapeForTerminal(agent), ": ",
                                  EscapeForTerminal(reason));
  const absl::string_view hint = ReasonHint(reason);
  if (!hint.empty()) absl::StrAppend(&line, " -- ", hint);
  return line;
}

std::string FormatFailureLine(double elapsed_seconds, const std::vector<std::string>& agents, size_t named,
                              absl::string_view reason) {
  if (agents.size() == 1) return FormatFailureLine(elapsed_seconds, agents.front(), reason);
  std::string line =
      absl::StrCat(Stamp(elapsed_seconds), " ", CountPhrase(agents.size(), "agent", "agents"), " (",
                   EscapeForTerminal(JoinSome(agents, named)), "): ", EscapeForTerminal(reason));
  const absl::string_view hint = ReasonHint(reason);
  if (!hint.empty()) absl::StrAppend(&line, " -- ", hint);
  return line;
}

std::string EraseLines(size_t lines) {
  if (lines == 0) return "";
  // Up `lines` rows, to column 0, clear to the end of the screen.
  return absl::StrCat("\x1b[", lines, "A\r\x1b[J");
}

ProgressDisplay::ProgressDisplay(std::function<void(absl::string_view)> write, bool terminal)
    : write_(std::move(write)), terminal_(terminal) {
  if (terminal_) SetLogSink(this);
}

ProgressDisplay::~ProgressDisplay() {
  // Once SetLogSink returns no log line is on its way here.
  if (terminal_ && GetLogSink() == this) SetLogSink(nullptr);
}

void ProgressDisplay::Update(const ProgressSnapshot& snapshot) {
  absl::MutexLock lock(&mu_);
  if (!terminal_) {
    write_(FormatProgressLine(snapshot));
    return;
  }
  std::string frame = FormatProgressFrame(snapshot);
  write_(absl::StrCat(EraseLines(frame_lines_), frame));
  frame_lines_ = static_cast<size_t>(std::count(frame.begin(), frame.end(), '\n'));
  frame_ = std::move(frame);
}

void ProgressDisplay::Announce(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  if (!terminal_) {
    write_(line);
    return;
  }
  WriteAbove(absl::StrCat(line, "\n"));
}

void ProgressDisplay::WriteLogLine(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  WriteAbove(line);
}

void ProgressDisplay::WriteAbove(absl::string_view text) {
  // The text takes the block's place and the block is drawn again below it,
  // so lines scroll up and stay readable.
  write_(absl::StrCat(EraseLines(frame_lines_), text, frame_));
}

}  // namespace fourtuple::coordinator
