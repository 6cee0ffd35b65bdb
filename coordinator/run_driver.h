// Drives one run over every agent of a plan, through the phases of
// docs/design.md: assign (each agent READY) → connect → barrier (all
// CONNECTED, or ramp_timeout) → hold with echo rounds → close (every agent's
// final CLOSED report) → the RunRecord the report is built from.
//
// Agents move together: each phase command goes to every agent before the
// driver waits for all of them, so peak concurrency is global. Heartbeats go
// to every agent each report_interval so their lease holds; an agent whose
// stream breaks, that reports FAILED, or that stays silent past its lease is
// set aside (its last counts kept) and the others finish.
//
// Thread-safety: DriveRun blocks the calling thread (the driver thread) and
// starts one session thread per agent, all joined before it returns.
#ifndef FOURTUPLE_COORDINATOR_RUN_DRIVER_H_
#define FOURTUPLE_COORDINATOR_RUN_DRIVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "coordinator/plan.h"
#include "coordinator/report.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::coordinator {

struct RunOptions {
  Plan plan;
  // Names the run in every agent's logs; empty = a random one.
  std::string run_id;
  // For agents and the target's control port; null = insecure channels.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Bounds the reachability probe of each agent.
  absl::Duration probe_timeout = absl::Seconds(5);
  // Host facts preflight already probed, per plan agent (a missing one is
  // probed again). Those agents are not probed a second time: their Run
  // stream starts at once and has ready_timeout to say READY. A probe's
  // tight bound is what a laptop wants for one agent that is down, not for
  // a thousand agents on a busy host that answered seconds ago.
  std::vector<std::optional<v1::HostFacts>> known_facts;
  // How long agents may take to accept the assignment and start workers.
  absl::Duration ready_timeout = absl::Seconds(60);
  // How long agents may take, after the close command, to send their final
  // report. Longer than the agent's own close bound (60 s, after which it
  // ends its workers and reports CLOSED anyway), so a slow close is not
  // mistaken for a lost agent.
  absl::Duration close_timeout = absl::Seconds(90);
  // An echo round is late only when it stalls: no echo answered, failed or
  // timed out on any agent for echo.timeout + 2 report intervals + this.
  // (A round over a million connections is paced by max_in_flight and lasts
  // as long as that takes; each echo has its own echo.timeout in the agent.)
  absl::Duration echo_stall_margin = absl::Seconds(10);
  // Set (from a signal handler) to cut the run short: the driver goes
  // straight to the close phase and the report says "interrupted". Polled.
  const std::atomic<bool>* stop = nullptr;
  // Receives the live progress (progress.h); null = written to stderr. In
  // plain mode each call is one line without its newline; with `terminal`
  // each call is text to write as is (a status block redrawn in place with
  // ANSI escapes).
  std::function<void(absl::string_view)> progress;
  // Redraw a status block instead of printing plain lines: for a terminal.
  bool terminal = false;
};

// Runs the plan. Fails (FailedPrecondition, listing each problem agent:
// unreachable, refused the assignment, not ready in time; one a line, what
// the agents said escaped for a terminal) when the run could not start on
// every agent; nothing was left running then. Once every agent
// is READY the run always ends with a RunRecord, whatever happens to agents.
// Cancelled when `stop` was set before every agent was READY.
absl::StatusOr<RunRecord> DriveRun(const RunOptions& options);

}  // namespace fourtuple::coordinator

#endif  // FOURTUPLE_COORDINATOR_RUN_DRIVER_H_
