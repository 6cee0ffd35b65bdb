#include "coordinator/run_driver.h"

#include <malloc.h>

#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"
#include "common/human_format.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/terminal_text.h"
#include "coordinator/agent_session.h"
#include "coordinator/failure_samples.h"
#include "coordinator/fan_out.h"
#include "coordinator/probe_command.h"
#include "coordinator/progress.h"
#include "coordinator/split.h"
#include "coordinator/target_poller.h"
#include "coordinator/tls_settings.h"
#include "proto/fourtuple.grpc.pb.h"

namespace fourtuple::coordinator {
namespace {

// Polling bound for the stop flag (a signal handler cannot signal a condvar).
constexpr absl::Duration kStopPoll = absl::Milliseconds(200);
// After the close phase, how long a stream may take to end once half-closed.
constexpr absl::Duration kStreamEndTimeout = absl::Seconds(5);
// Agents being probed and assigned at once (fan_out.h).
constexpr size_t kMaxAssignmentsInFlight = 64;
// Agents named in one log line or note; the rest are counted.
constexpr size_t kAgentsNamed = 10;

std::string RandomRunId() {
  std::random_device random;
  return absl::StrFormat("%08x%08x", random(), random());
}

std::function<void(absl::string_view)> ProgressWriter(const RunOptions& options) {
  if (options.progress) return options.progress;
  if (options.terminal) {
    return [](absl::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stderr);
      std::fflush(stderr);
    };
  }
  return [](absl::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stderr);
  };
}

// "connecting", "echoing", ... for the status block.
std::string PhaseWord(v1::RunPhase phase) {
  std::string name = v1::RunPhase_Name(phase);
  constexpr absl::string_view kPrefix = "RUN_PHASE_";
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return absl::AsciiStrToLower(name);
}

bool PhaseAtLeast(const v1::RunReport& report, v1::RunPhase phase) {
  // FAILED is numerically last but is not progress.
  return report.phase() != v1::RUN_PHASE_FAILED && report.phase() >= phase;
}

class RunDriver {
 public:
  explicit RunDriver(const RunOptions& options)
      : options_(options),
        plan_(options.plan),
        credentials_(options.credentials ? options.credentials : grpc::InsecureChannelCredentials()),
        display_(ProgressWriter(options), options.terminal) {}

  ~RunDriver() {
    // Whatever path led here, no session thread outlives the driver.
    for (auto& session : sessions_) session->Cancel();
    for (auto& session : sessions_) session->Join();
  }

  absl::StatusOr<RunRecord> Drive() {
    ASSIGN_OR_RETURN(shares_, SplitPlan(plan_));
    RETURN_IF_ERROR(Prepare());
    Run();
    return Finish();
  }

 private:
  struct AgentView {
    AgentSession::Snapshot snapshot;
    uint64_t version = 0;  // the session's version the snapshot is from
    // When a report first said CONNECTED (to within a report interval).
    absl::Time connected_at = absl::InfiniteFuture();
    std::optional<AgentState> final_state;  // decided: set aside or finished
    std::string error;
  };

  bool Stopping() const { return options_.stop != nullptr && options_.stop->load(); }
  double Elapsed() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

  // Active: still in the run (not lost, failed or finished early).
  bool Active(size_t i) const { return !views_[i].final_state.has_value(); }

  // ------------------------------------------------------------ assign

  absl::Status Prepare() {
    start_ = absl::Now();
    next_tick_ = start_ + plan_.report_interval;
    run_id_ = options_.run_id.empty() ? RandomRunId() : options_.run_id;
    phase_ = "assign";
    record_.timeline.push_back(TimelineSample{0, 0, 0, 0, std::vector<uint64_t>(plan_.agents.size(), 0)});
    views_.resize(plan_.agents.size());
    for (size_t i = 0; i < plan_.agents.size(); ++i) {
      sessions_.push_back(std::make_unique<AgentSession>(plan_.agents[i].endpoint, credentials_, &notifier_));
    }
    for (size_t i = 0; i < plan_.agents.size(); ++i) {
      const std::optional<v1::HostFacts>* known =
          i < options_.known_facts.size() && options_.known_facts[i].has_value() ? &options_.known_facts[i]
                                                                                 : nullptr;
      sessions_[i]->Start(MakeAssignment(i), options_.probe_timeout, &fan_out_,
                          known != nullptr ? &**known : nullptr);
    }
    LOG_INFO("run %s: assigning %s to %s", run_id_,
             CountPhrase(plan_.connections, "connection", "connections"),
             CountPhrase(plan_.agents.size(), "agent", "agents"));

    const absl::Time deadline = start_ + options_.ready_timeout;
    WaitUntil(
        [this] {
          for (const AgentView& view : views_) {
            const AgentSession::Snapshot& s = view.snapshot;
            const bool settled = s.stage == AgentSession::Stage::kEnded ||
                                 (s.has_report && s.report.phase() != v1::RUN_PHASE_UNSPECIFIED);
            if (!settled) return false;
          }
          return true;
        },
        deadline, /*honor_stop=*/true);

    std::vector<std::string> problems;
    for (size_t i = 0; i < views_.size(); ++i) {
      const AgentSession::Snapshot& s = views_[i].snapshot;
      const std::string& endpoint = plan_.agents[i].endpoint;
      if (s.stage == AgentSession::Stage::kEnded) {
        if (!s.reached) {
          problems.push_back(DescribeProbeFailure(endpoint, s.end_status));
        } else {
          problems.push_back(absl::StrCat("agent ", endpoint, " refused the run (",
                                          absl::StatusCodeToString(s.end_status.code()),
                                          "): ", s.end_status.message()));
        }
      } else if (s.has_report && s.report.phase() == v1::RUN_PHASE_FAILED) {
        problems.push_back(absl::StrCat("agent ", endpoint, " failed to start the run: ", s.report.error()));
      } else if (!s.has_report || !PhaseAtLeast(s.report, v1::RUN_PHASE_READY)) {
        problems.push_back(absl::StrCat(
            "agent ", endpoint, " was not ready after ",
            FormatDuration(absl::Trunc(absl::Now() - start_, absl::Milliseconds(1))), " (",
            s.has_report ? v1::RunPhase_Name(s.report.phase()) : std::string("no report yet"), ")"));
      } else if (PhaseAtLeast(s.report, v1::RUN_PHASE_CONNECTING)) {
        problems.push_back(absl::StrCat("agent ", endpoint, " started connecting on its own (",
                                        v1::RunPhase_Name(s.report.phase()), ")"));
      }
    }
    if (Stopping() || !problems.empty()) {
      // Nothing was opened yet: ending the streams ends the run on every
      // agent that took it.
      for (auto& session : sessions_) session->Cancel();
      for (auto& session : sessions_) session->Join();
      if (problems.empty()) return absl::CancelledError("interrupted before the run started");
      // Each problem quotes the agent: one line each, whatever it said.
      for (std::string& problem : problems) problem = EscapeForTerminal(problem);
      return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
    }
    started_ = true;
    // One line for all: a thousand "ready" lines would bury everything else.
    std::set<std::string> hosts;
    uint64_t processes = 0;
    for (const AgentView& view : views_) {
      hosts.insert(view.snapshot.report.host());
      processes += view.snapshot.report.processes();
    }
    LOG_INFO("%s ready after %s on %s, %s", CountPhrase(views_.size(), "agent", "agents"),
             FormatDuration(absl::Trunc(absl::Now() - start_, absl::Milliseconds(1))),
             CountPhrase(hosts.size(), "host", "hosts"),
             CountPhrase(processes, "worker process", "worker processes"));
    return absl::OkStatus();
  }

  v1::Assignment MakeAssignment(size_t i) const {
    v1::Assignment assignment;
    assignment.set_run_id(run_id_);
    assignment.set_agent_index(static_cast<uint32_t>(i));
    for (const std::string& target : plan_.target_endpoints) assignment.add_targets(target);
    for (const std::string& source : plan_.agents[i].source_addresses) {
      assignment.add_source_addresses(source);
    }
    assignment.set_connections_per_source_address(plan_.agents[i].connections_per_source_address);
    assignment.set_connections(shares_[i].connections);
    assignment.set_connect_rate(shares_[i].connect_rate);
    assignment.set_echo_rate(shares_[i].echo_rate);
    assignment.set_max_in_flight(shares_[i].max_in_flight);
    assignment.set_connect_timeout_ms(absl::ToInt64Milliseconds(plan_.connect_timeout));
    if (plan_.echo.send.empty()) {
      assignment.set_payload_bytes(plan_.echo.payload_bytes);
    } else {  // the agent requires payload_bytes 0 with a fixed request
      assignment.set_echo_send(plan_.echo.send);
      assignment.set_echo_expect(plan_.echo.expect);
    }
    // The plan's send/expect and first_send/first_expect are template text.
    assignment.set_echo_templates(true);
    assignment.set_echo_greeting(plan_.echo.greeting);
    assignment.set_echo_first_send(plan_.echo.first_send);
    assignment.set_echo_first_expect(plan_.echo.first_expect);
    assignment.set_echo_timeout_ms(absl::ToInt64Milliseconds(plan_.echo.timeout));
    assignment.set_report_interval_ms(absl::ToInt64Milliseconds(plan_.report_interval));
    assignment.set_lease_ms(absl::ToInt64Milliseconds(plan_.lease));
    assignment.set_processes(0);
    if (plan_.tls.has_value()) *assignment.mutable_tls() = TlsSettingsOf(*plan_.tls);
    SetLoadModels(plan_.load,
                  static_cast<double>(shares_[i].connections) / static_cast<double>(plan_.connections),
                  &assignment);
    if (plan_.websocket.has_value()) SetWebSocketSettings(*plan_.websocket, assignment.mutable_websocket());
    return assignment;
  }

  // ------------------------------------------------------------ phases

  void Run() {
    // connect → barrier
    phase_ = "connect";
    const absl::Time connect_start = absl::Now();
    v1::RunCommand connect;
    connect.mutable_connect();
    SendToActive(connect);
    const bool barrier = WaitUntil(
        [this] {
          return AllActive(
              [](const AgentView& v) { return PhaseAtLeast(v.snapshot.report, v1::RUN_PHASE_CONNECTED); });
        },
        connect_start + plan_.ramp_timeout, /*honor_stop=*/true);
    const absl::Time barrier_time = absl::Now();
    record_.connect_seconds = absl::ToDoubleSeconds(barrier_time - connect_start);
    if (!barrier && !Stopping()) {
      record_.barrier_timed_out = true;
      LOG_WARNING("ramp_timeout (%s) passed before every agent finished connecting",
                  FormatDuration(plan_.ramp_timeout));
    } else if (barrier) {
      LogBarrier(connect_start, barrier_time);
    }
    QueryTarget();

    // hold, with echo rounds
    for (uint32_t round = 1; round <= plan_.echo.rounds && !Stopping(); ++round) {
      if (round == plan_.echo.rounds) WaitForLoadModelsToSettle(barrier_time);
      phase_ = absl::StrCat("echo ", round);
      v1::RunCommand echo;
      echo.mutable_echo()->set_round(round);
      SendToActive(echo);
      const absl::Time round_start = absl::Now();
      const bool done = WaitForEchoRound(round);
      record_.echo_seconds += absl::ToDoubleSeconds(absl::Now() - round_start);
      if (!done && !Stopping()) {
        std::vector<std::string> late;
        for (size_t i = 0; i < views_.size(); ++i) {
          if (Active(i) && views_[i].snapshot.report.echo_rounds_done() < round) {
            late.push_back(plan_.agents[i].endpoint);
          }
        }
        record_.notes.push_back(
            absl::StrCat("echo round ", round, " did not finish in time on ", JoinSome(late, kAgentsNamed)));
        LOG_WARNING("%s", record_.notes.back());
      }
      if (round < plan_.echo.rounds) {
        phase_ = "hold";
        WaitUntil([] { return false; }, absl::Now() + plan_.echo.interval, /*honor_stop=*/true);
      }
    }
    QueryTarget();
    phase_ = "hold";
    WaitUntil([] { return false; }, barrier_time + plan_.hold, /*honor_stop=*/true);
    record_.open_at_end = Counts().open;
    if (plan_.load.any()) QueryTarget();

    // close: not cut short by a stop request, the agents must be told.
    record_.interrupted = Stopping();
    phase_ = "close";
    v1::RunCommand close;
    close.mutable_close();
    SendToActive(close);
    WaitUntil(
        [this] {
          return AllActive([](const AgentView& v) {
            return v.snapshot.report.phase() == v1::RUN_PHASE_CLOSED ||
                   v.snapshot.stage == AgentSession::Stage::kEnded;
          });
        },
        absl::Now() + options_.close_timeout, /*honor_stop=*/false);
    // The agents end their streams after the final report; half-close ours
    // and give theirs a moment.
    for (auto& session : sessions_) session->WritesDone();
    WaitUntil(
        [this] {
          for (const AgentView& view : views_) {
            if (view.snapshot.stage != AgentSession::Stage::kEnded) return false;
          }
          return true;
        },
        absl::Now() + kStreamEndTimeout, /*honor_stop=*/false);
    phase_ = "done";
    Tick(/*heartbeat=*/false);
  }

  RunRecord Finish() {
    for (auto& session : sessions_) session->Cancel();
    for (auto& session : sessions_) session->Join();
    Observe();
    // The whole of each agent's last report, histograms included, once.
    for (size_t i = 0; i < views_.size(); ++i) views_[i].snapshot = sessions_[i]->snapshot();
    if (target_poller_ != nullptr) record_.target = target_poller_->Finish();
    record_.plan = plan_;
    for (size_t i = 0; i < views_.size(); ++i) {
      AgentView& view = views_[i];
      if (!view.final_state.has_value()) {
        // Still "active" after the close phase: it never sent CLOSED.
        view.final_state = AgentState::kLost;
        view.error = absl::StrCat("no final report within ", FormatDuration(options_.close_timeout),
                                  " of the close command");
      }
      AgentRecord agent;
      agent.endpoint = plan_.agents[i].endpoint;
      agent.state = *view.final_state;
      agent.requested = shares_[i].connections;
      agent.has_report = view.snapshot.has_report;
      agent.last.Swap(&view.snapshot.report);
      agent.host = view.snapshot.facts.hostname();
      agent.has_facts = view.snapshot.reached;
      agent.facts.Swap(&view.snapshot.facts);
      agent.error = view.error;
      record_.agents.push_back(std::move(agent));
    }
    return std::move(record_);
  }

  // How the agents arrived at the barrier: with many agents the last one
  // decides when the hold starts.
  void LogBarrier(absl::Time connect_start, absl::Time barrier_time) const {
    absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
    size_t connected = 0;
    for (const AgentView& view : views_) {
      if (view.connected_at == absl::InfiniteFuture()) continue;
      ++connected;
      first = std::min(first, view.connected_at);
      last = std::max(last, view.connected_at);
    }
    if (connected == 0) return;
    LOG_INFO(
        "barrier after %.3f s: %s connected, the first %.3f s and the last %.3f s after the connect "
        "command (spread %.3f s)",
        absl::ToDoubleSeconds(barrier_time - connect_start), CountPhrase(connected, "agent", "agents"),
        absl::ToDoubleSeconds(first - connect_start), absl::ToDoubleSeconds(last - connect_start),
        absl::ToDoubleSeconds(last - first));
  }

  // ------------------------------------------------------------ plumbing

  bool AllActive(const std::function<bool(const AgentView&)>& predicate) const {
    for (size_t i = 0; i < views_.size(); ++i) {
      if (Active(i) && !predicate(views_[i])) return false;
    }
    return true;
  }

  void SendToActive(const v1::RunCommand& command) {
    for (size_t i = 0; i < sessions_.size(); ++i) {
      // A failed write shows up as the stream ending; Observe handles it.
      if (Active(i)) sessions_[i]->Send(command);
    }
  }

  // With churn or reconnect, the last echo round checks a run at rest: it
  // starts once churn is over and every connection is open again (or
  // ramp_timeout has passed since).
  void WaitForLoadModelsToSettle(absl::Time barrier_time) {
    if (!plan_.load.any()) return;
    if (plan_.load.churn.has_value()) {
      phase_ = "churn";
      WaitUntil([] { return false; }, barrier_time + plan_.load.churn->duration, /*honor_stop=*/true);
    }
    phase_ = "recover";
    auto settled = [this] {
      uint64_t open = 0, reopening = 0;
      for (size_t i = 0; i < views_.size(); ++i) {
        if (!Active(i)) continue;
        open += views_[i].snapshot.report.open();
        reopening += views_[i].snapshot.report.reopening();
      }
      return reopening == 0 && open >= plan_.connections;
    };
    if (!WaitUntil(settled, absl::Now() + plan_.ramp_timeout, /*honor_stop=*/true) && !Stopping()) {
      record_.notes.push_back(absl::StrCat("connections were still reopening ",
                                           FormatDuration(plan_.ramp_timeout),
                                           " (ramp_timeout) after churn and reconnects; the last echo "
                                           "round ran anyway"));
      LOG_WARNING("%s", record_.notes.back());
    }
  }

  // Waits for every active agent to finish echo round `round`; false when
  // the round stalls (see RunOptions::echo_stall_margin) or the run stops.
  bool WaitForEchoRound(uint32_t round) {
    const absl::Duration stall_limit =
        plan_.echo.timeout + 2 * plan_.report_interval + options_.echo_stall_margin;
    auto round_done = [this, round] {
      return AllActive([round](const AgentView& v) { return v.snapshot.report.echo_rounds_done() >= round; });
    };
    uint64_t progress = EchoProgress();
    absl::Time last_move = absl::Now();
    while (true) {
      WaitUntil([&] { return round_done() || EchoProgress() != progress; }, last_move + stall_limit,
                /*honor_stop=*/true);
      if (round_done()) return true;
      if (Stopping() || EchoProgress() == progress) return false;
      progress = EchoProgress();
      last_move = absl::Now();
    }
  }

  // Echoes settled so far on the active agents, every round and outcome.
  uint64_t EchoProgress() const {
    uint64_t settled = 0;
    for (size_t i = 0; i < views_.size(); ++i) {
      if (!Active(i)) continue;
      const v1::RunReport& r = views_[i].snapshot.report;
      settled += r.echo_verified() + r.echo_mismatched() + r.echo_timed_out() + r.echo_closed();
    }
    return settled;
  }

  // Waits, sending heartbeats and printing progress each report interval,
  // until `done` holds over fresh snapshots or `deadline` passes (or a stop
  // is requested, when honored). Returns whether `done` held.
  bool WaitUntil(const std::function<bool()>& done, absl::Time deadline, bool honor_stop) {
    while (true) {
      const uint64_t generation = notifier_.generation();
      Observe();
      if (done()) return true;
      if (honor_stop && Stopping()) return false;
      const absl::Time now = absl::Now();
      if (now >= deadline) return false;
      if (now >= next_tick_) {
        Tick(/*heartbeat=*/true);
        continue;
      }
      notifier_.WaitForChange(generation, std::min({deadline, next_tick_, now + kStopPoll}));
    }
  }

  // Takes fresh snapshots of the sessions that changed and sets aside agents
  // that dropped out. Runs on every report from any agent: a snapshot is
  // copied only when its session moved, so a thousand agents cost a thousand
  // copies per report interval, not a thousand per report.
  void Observe() {
    const absl::Time now = absl::Now();
    const absl::Duration silence_limit = std::max(plan_.lease, 3 * plan_.report_interval);
    uint64_t open = 0;
    // This pass's, endpoint and why, logged as one line each.
    std::vector<std::pair<std::string, std::string>> lost, failed;
    for (size_t i = 0; i < sessions_.size(); ++i) {
      AgentView& view = views_[i];
      const uint64_t version = sessions_[i]->version();
      const bool changed = version != view.version;
      if (changed) {
        view.snapshot = sessions_[i]->light_snapshot();
        view.version = version;
      }
      if (!started_ || !Active(i)) continue;
      const AgentSession::Snapshot& s = view.snapshot;
      if (view.connected_at == absl::InfiniteFuture() && PhaseAtLeast(s.report, v1::RUN_PHASE_CONNECTED)) {
        view.connected_at = now;
      }
      const std::string& endpoint = plan_.agents[i].endpoint;
      if (s.has_report && s.report.phase() == v1::RUN_PHASE_FAILED) {
        view.final_state = AgentState::kFailed;
        view.error = s.report.error().empty() ? "the agent reported FAILED" : s.report.error();
        failed.emplace_back(endpoint, view.error);
        sessions_[i]->Cancel();
      } else if (s.stage == AgentSession::Stage::kEnded) {
        if (s.report.phase() == v1::RUN_PHASE_CLOSED) {
          view.final_state = AgentState::kDone;
        } else {
          view.final_state = AgentState::kLost;
          view.error = absl::StrCat("stream ended (", absl::StatusCodeToString(s.end_status.code()),
                                    "): ", s.end_status.message());
          lost.emplace_back(endpoint, view.error);
        }
      } else if (s.report.phase() == v1::RUN_PHASE_CLOSED) {
        view.final_state = AgentState::kDone;
      } else if (now - s.last_report_time > silence_limit) {
        view.final_state = AgentState::kLost;
        view.error = absl::StrCat(
            "no report for ", FormatDuration(absl::Trunc(now - s.last_report_time, absl::Milliseconds(1))));
        lost.emplace_back(endpoint, view.error);
        sessions_[i]->Cancel();
      }
      if (Active(i) || view.final_state == AgentState::kDone) open += s.report.open();
      if (changed) NoteNewFailures(i);
    }
    LogSetAside("failed", failed);
    LogSetAside("lost", lost);
    if (started_) record_.peak_open = std::max(record_.peak_open, open);
  }

  // "agent A lost: why" for one agent; for several, one line naming the
  // first few: "12 agents lost: A (why), B (why) ... and 2 more".
  static void LogSetAside(absl::string_view how,
                          const std::vector<std::pair<std::string, std::string>>& agents) {
    if (agents.empty()) return;
    if (agents.size() == 1) {
      LOG_ERROR("agent %s %s: %s", agents.front().first, how, agents.front().second);
      return;
    }
    std::vector<std::string> named;
    for (size_t i = 0; i < agents.size() && i < kAgentsNamed; ++i) {
      named.push_back(absl::StrCat(agents[i].first, " (", agents[i].second, ")"));
    }
    if (agents.size() > kAgentsNamed) named.resize(agents.size());  // counted, not shown
    LOG_ERROR("%s %s: %s", CountPhrase(agents.size(), "agent", "agents"), how, JoinSome(named, kAgentsNamed));
  }

  // A failure reason's first appearance on an agent, gathered until the
  // next progress interval: the report's map is small (one entry per
  // reason), so this is cheap.
  void NoteNewFailures(size_t i) {
    // A reason's first sample, once per run (whichever agent had it first).
    for (const auto& [reason, bytes] : views_[i].snapshot.report.failure_samples()) {
      if (samples_seen_.insert(reason).second) {
        new_samples_.push_back(FormatSampleAnnouncement(Elapsed(), plan_.agents[i].endpoint, reason, bytes));
      }
    }
    const auto& failures = views_[i].snapshot.report.failures();
    if (failures.empty()) return;
    const std::map<std::string, uint64_t> sorted(failures.begin(), failures.end());
    for (const std::string& reason : failures_seen_.FirstSeen(i, sorted)) {
      new_failures_[reason].push_back(plan_.agents[i].endpoint);
    }
  }

  // One line per reason that appeared since the last interval, naming the
  // first few agents: a reason that hits a thousand agents at once is one
  // line, not a thousand.
  void AnnounceNewFailures() {
    for (const auto& [reason, agents] : new_failures_) {
      display_.Announce(FormatFailureLine(Elapsed(), agents, kAgentsNamed, reason));
    }
    new_failures_.clear();
    for (const std::string& line : new_samples_) display_.Announce(line);
    new_samples_.clear();
  }

  ProgressCounts Counts() const {
    ProgressCounts counts;
    for (size_t i = 0; i < views_.size(); ++i) {
      const v1::RunReport& report = views_[i].snapshot.report;
      counts.established += report.established();
      counts.failed += report.failed();
      counts.echo_verified += report.echo_verified();
      // A lost agent's connections are being closed by its lease.
      if (Active(i) || views_[i].final_state == AgentState::kDone) counts.open += report.open();
    }
    return counts;
  }

  void Tick(bool heartbeat) {
    const absl::Time now = absl::Now();
    // A thousand reports a second are parsed on gRPC's threads and freed on
    // this one: give the freed pages back each interval, or the peak RSS
    // holds space the heap no longer uses.
    malloc_trim(0);
    if (heartbeat) {
      v1::RunCommand command;
      command.mutable_heartbeat();
      for (size_t i = 0; i < sessions_.size(); ++i) {
        // Before its first report an agent is still taking the assignment.
        if (Active(i) && views_[i].snapshot.has_report) sessions_[i]->Send(command);
      }
    }
    const ProgressCounts counts = Counts();
    const double t = Elapsed();
    TimelineSample sample{t, counts.open, counts.established, counts.failed, {}};
    if (plan_.load.any()) {
      for (const AgentView& view : views_) {
        sample.churned += view.snapshot.report.churned();
        sample.reconnected += view.snapshot.report.reconnected();
        sample.reopening += view.snapshot.report.reopening();
      }
      QueryTarget();  // the target's counts through restarts (target_poller.h)
    }
    for (size_t i = 0; i < views_.size(); ++i) {
      const bool holding = Active(i) || views_[i].final_state == AgentState::kDone;
      sample.agents_open.push_back(holding ? views_[i].snapshot.report.open() : 0);
    }
    record_.timeline.push_back(std::move(sample));
    AnnounceNewFailures();
    display_.Update(Snapshot(t, counts));
    next_tick_ += plan_.report_interval;
    if (next_tick_ <= now) next_tick_ = now + plan_.report_interval;
  }

  ProgressSnapshot Snapshot(double t, const ProgressCounts& counts) {
    ProgressSnapshot snapshot;
    snapshot.elapsed_seconds = t;
    snapshot.phase = phase_;
    snapshot.requested = plan_.connections;
    snapshot.echo_rounds = plan_.echo.rounds;
    snapshot.connect_rate = connect_rate_.Sample(t, counts.established);
    snapshot.totals = counts;
    std::optional<uint32_t> rounds_done;
    for (size_t i = 0; i < views_.size(); ++i) {
      const AgentView& view = views_[i];
      const v1::RunReport& report = view.snapshot.report;
      AgentProgress agent;
      agent.name = plan_.agents[i].endpoint;
      if (view.final_state.has_value()) {
        agent.state = std::string(AgentStateName(*view.final_state));
      } else {
        agent.state = view.snapshot.has_report ? PhaseWord(report.phase()) : "assigning";
      }
      agent.requested = shares_[i].connections;
      agent.open = report.open();
      agent.established = report.established();
      agent.failed = report.failed();
      agent.echo_verified = report.echo_verified();
      snapshot.agents.push_back(std::move(agent));
      if (view.snapshot.has_report && PhaseAtLeast(report, v1::RUN_PHASE_READY)) ++snapshot.agents_ready;
      if (Active(i) || view.final_state == AgentState::kDone) {
        rounds_done = std::min(rounds_done.value_or(report.echo_rounds_done()), report.echo_rounds_done());
      }
    }
    snapshot.echo_rounds_done = rounds_done.value_or(0);
    if (plan_.load.any()) {
      ProgressSnapshot::LoadModels& m = snapshot.load_models.emplace();
      for (const AgentView& view : views_) {
        m.drops += view.snapshot.report.drops();
        m.reconnected += view.snapshot.report.reconnected();
        m.reopening += view.snapshot.report.reopening();
        m.churned += view.snapshot.report.churned();
      }
      m.reconnect_rate = reconnect_rate_.Sample(t, m.reconnected);
    }
    return snapshot;
  }

  // Asks for the target's counts; they are gathered off this thread
  // (target_poller.h) so a control port that does not answer cannot hold up
  // the heartbeats.
  void QueryTarget() {
    if (plan_.target_control.empty()) return;
    if (target_poller_ == nullptr) {
      target_poller_ =
          std::make_unique<TargetPoller>(plan_.target_control, credentials_, options_.probe_timeout);
    }
    target_poller_->Request();
  }

  // Constant after construction.
  const RunOptions& options_;
  const Plan& plan_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;

  // Owned by the driver thread.
  std::vector<AgentShare> shares_;
  std::string run_id_;
  Notifier notifier_;                        // outlives the sessions (declared before them)
  FanOut fan_out_{kMaxAssignmentsInFlight};  // likewise
  std::vector<std::unique_ptr<AgentSession>> sessions_;
  std::vector<AgentView> views_;
  bool started_ = false;  // every agent was READY
  absl::Time start_;
  absl::Time next_tick_;
  std::string phase_;
  ProgressDisplay display_;
  ConnectRate connect_rate_;
  ConnectRate reconnect_rate_;  // the same arithmetic over reconnects
  FailureTracker failures_seen_;
  std::map<std::string, std::vector<std::string>> new_failures_;  // reason -> agents, since the last Tick
  std::set<std::string> samples_seen_;                            // reasons whose sample was announced
  std::vector<std::string> new_samples_;                          // their lines, since the last Tick
  std::unique_ptr<TargetPoller> target_poller_;                   // made by the first QueryTarget
  RunRecord record_;
};

}  // namespace

absl::StatusOr<RunRecord> DriveRun(const RunOptions& options) {
  RunDriver driver(options);
  return driver.Drive();
}

}  // namespace fourtuple::coordinator
