// Live progress of a run, for the person watching it.
//
// Not on a terminal (logs, CI): one plain line per report interval (while
// the run is being assigned, ending in "agents ready N/M"),
//   [   12.0s] connect  open 24,000  established 24,000/100,000  failed 0  rate 8,000/s  echo verified
//   0/100,000
// On a terminal: a status block redrawn in place each interval (cursor up,
// clear lines) with the totals, the connect rate, echo progress, a progress
// bar toward the plan's connection count and one line per agent; past
// kMaxAgentLines agents, a count of agents per state and the agents furthest
// behind (lost and failed ones first) instead, so the block stays a screen
// high with a thousand agents.
// Either way, a failure reason is announced the first time agents report
// it, with its cause and fix (common/failure_reason.h), as one line of its
// own per reason and interval that scrolls above the status block. Counts are grouped
// (common/human_format.h); agent names, states and reasons come from
// elsewhere and are escaped (terminal_text.h).
//
// The frames and lines are pure functions of a ProgressSnapshot, so they are
// tested without a terminal or a run.
//
// Thread-compatible: each object here is used by the driver thread only,
// except ProgressDisplay, which also takes log lines from any thread.
#ifndef FOURTUPLE_COORDINATOR_PROGRESS_H_
#define FOURTUPLE_COORDINATOR_PROGRESS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"

namespace fourtuple::coordinator {

// The run's totals at one moment (sums over agents' latest reports).
struct ProgressCounts {
  uint64_t open = 0;
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t echo_verified = 0;
};

// One agent's line of the status block.
struct AgentProgress {
  std::string name;   // its endpoint
  std::string state;  // its phase ("connecting", "echoing", ...) or how it ended ("lost")
  uint64_t requested = 0;
  uint64_t open = 0;
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t echo_verified = 0;
};

// Everything one frame or line shows.
struct ProgressSnapshot {
  double elapsed_seconds = 0;     // since the run started
  std::string phase;              // the driver's phase: "connect", "echo 1", "hold", ...
  uint64_t requested = 0;         // the plan's connections: the progress bar's 100%
  uint32_t echo_rounds = 0;       // the plan's echo rounds
  uint32_t echo_rounds_done = 0;  // rounds finished on every agent still in the run
  double connect_rate = 0;        // connections established per second, lately
  ProgressCounts totals;
  // While the run is being assigned: agents that took it and are READY.
  size_t agents_ready = 0;
  std::vector<AgentProgress> agents;  // in plan order
  // With churn or reconnect in the plan (load models): what is reopening.
  struct LoadModels {
    uint64_t drops = 0;         // established connections the far side closed
    uint64_t reconnected = 0;   // of those, open again
    double reconnect_rate = 0;  // reconnects per second, lately
    uint64_t reopening = 0;     // waiting to reopen or reopening now
    uint64_t churned = 0;       // churn closes reopened
  };
  std::optional<LoadModels> load_models;
};

// "  drops 5  reconnected 5 (12/s)  reopening 0  churned 40", or "" without load models.
std::string FormatLoadModelProgress(const ProgressSnapshot& snapshot);

// The connect rate: the established delta over the time since the previous
// sample (the first sample's since time 0, when nothing was established).
class ConnectRate {
 public:
  double Sample(double elapsed_seconds, uint64_t established);

 private:
  double previous_seconds_ = 0;
  uint64_t previous_established_ = 0;
};

// The plain line for one interval (no newline).
std::string FormatProgressLine(const ProgressSnapshot& snapshot);

// Agents listed one per line in the status block; more than this many are
// summarised (see above).
inline constexpr size_t kMaxAgentLines = 12;

// The terminal status block: lines each ending in '\n', no escapes. `width`
// is the progress bar's width in characters.
std::string FormatProgressFrame(const ProgressSnapshot& snapshot, int width = 40);

// The line announcing a failure reason's first appearance on an agent (no
// newline): "[   0.4s] agent 127.0.0.1:7001: ECONNREFUSED -- <cause and fix>".
std::string FormatFailureLine(double elapsed_seconds, absl::string_view agent, absl::string_view reason);
// The same for a reason that appeared on several agents at once, naming the
// first `named`: "[  0.4s] 1,000 agents (a, b and 998 more): ECONNREFUSED -- ...".
std::string FormatFailureLine(double elapsed_seconds, const std::vector<std::string>& agents, size_t named,
                              absl::string_view reason);

// What moves the cursor back to the top of a block of `lines` lines and
// clears from there down, so the next frame replaces it.
std::string EraseLines(size_t lines);

// Remembers which reasons each agent has already been announced for.
class FailureTracker {
 public:
  // The reasons in `reasons` (with a count above zero) not yet seen for
  // `agent`, in the map's order; they count as seen from now on.
  template <typename Map>
  std::vector<std::string> FirstSeen(size_t agent, const Map& reasons) {
    std::vector<std::string> fresh;
    for (const auto& [reason, count] : reasons) {
      if (count > 0 && seen_.emplace(agent, std::string(reason)).second) fresh.emplace_back(reason);
    }
    return fresh;
  }

 private:
  std::set<std::pair<size_t, std::string>> seen_;
};

// Writes progress to one output: plain lines, or frames redrawn in place.
//
// A terminal-mode display is the process's log sink (common/logging.h) while
// it exists: a log line erases the block, is printed, and the block is drawn
// again below it, so log lines scroll above the block instead of being
// overdrawn by its next frame.
//
// Thread-safety: Update and Announce from one thread (the driver's); log
// lines may arrive from any thread meanwhile.
class ProgressDisplay : private LogSink {
 public:
  // `write` receives text to print as is; in plain mode each call is one
  // line without its newline (write adds it), in terminal mode any text.
  // It is called under the display's lock and must not log.
  ProgressDisplay(std::function<void(absl::string_view)> write, bool terminal);
  ~ProgressDisplay() override;
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Each report interval.
  void Update(const ProgressSnapshot& snapshot);
  // A line that must stay visible (a failure's first appearance).
  void Announce(absl::string_view line);

 private:
  // A log line, with its newline (terminal mode).
  void WriteLogLine(absl::string_view line) override;
  // Writes `text` above the block: erases it, writes, draws it again.
  void WriteAbove(absl::string_view text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<void(absl::string_view)> write_;
  const bool terminal_;
  absl::Mutex mu_;
  std::string frame_ ABSL_GUARDED_BY(mu_);  // the block on screen now (terminal mode)
  size_t frame_lines_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_PROGRESS_H_
