#include "agent/run_loop.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/logging.h"

namespace fourtuple::agent {

RunLoop::Config RunLoop::ConfigFor(const v1::Assignment& assignment, const RunTimings& timings,
                                   absl::Time started, AgentMetrics* metrics) {
  Config config;
  config.run_id = assignment.run_id();
  config.report_interval = absl::Milliseconds(assignment.report_interval_ms());
  config.lease = absl::Milliseconds(assignment.lease_ms());
  config.started = started;
  config.timings = timings;
  config.metrics = metrics;
  return config;
}

RunLoop::RunLoop(Config config, RunWorkers& workers, ReportSink& reports, absl::Time now)
    : config_(std::move(config)),
      workers_(workers),
      reports_(reports),
      start_deadline_(now + config_.timings.start_timeout),
      last_command_(config_.started) {}

RunEnd RunLoop::Fail(const absl::Status& status) {
  workers_.Terminate(config_.timings.terminate_grace);
  v1::RunReport report = workers_.BuildReport();
  report.set_phase(v1::RUN_PHASE_FAILED);
  report.set_open(0);
  report.set_in_flight(0);
  report.set_error(std::string(status.message()));
  reports_.Write(report);
  return RunEnd{status, false};
}

RunEnd RunLoop::Abandon(const absl::Status& status) {
  workers_.Terminate(config_.timings.terminate_grace);
  LOG_WARNING("run %s: %s: every connection of the run was closed", config_.run_id, status.message());
  return RunEnd{status, true};
}

void RunLoop::Forward(const v1::WorkerCommand& command) {
  if (absl::Status sent = workers_.Forward(command); !sent.ok()) {
    // A worker that cannot take a command has died; Reap() reports it.
    LOG_WARNING("run %s: forwarding a command: %s", config_.run_id, sent.ToString());
  }
}

void RunLoop::BeginClose(absl::Time now) {
  v1::WorkerCommand command;
  command.mutable_close();
  Forward(command);
  stage_ = Stage::kClosing;
  close_deadline_ = now + config_.timings.close_timeout;
}

std::optional<RunEnd> RunLoop::Apply(const v1::RunCommand& command, absl::Time now) {
  switch (command.command_case()) {
    case v1::RunCommand::kAssignment:
      return Fail(
          absl::InvalidArgumentError("assignment: only the first command of a run may carry an assignment"));
    case v1::RunCommand::kConnect: {
      if (connect_sent_ || stage_ == Stage::kClosing) {
        LOG_WARNING("run %s: connect ignored (%s)", config_.run_id,
                    connect_sent_ ? "already connecting" : "closing");
        break;
      }
      connect_sent_ = true;
      v1::WorkerCommand forwarded;
      *forwarded.mutable_connect() = command.connect();
      Forward(forwarded);
      break;
    }
    case v1::RunCommand::kEcho: {
      const uint32_t round = command.echo().round();
      if (round <= last_echo_round_) {
        return Fail(absl::InvalidArgumentError(absl::StrCat("echo.round: ", round, " after round ",
                                                            last_echo_round_, "; rounds count up from 1")));
      }
      if (stage_ == Stage::kClosing) break;
      last_echo_round_ = round;
      v1::WorkerCommand forwarded;
      *forwarded.mutable_echo() = command.echo();
      Forward(forwarded);
      break;
    }
    case v1::RunCommand::kClose:
      if (stage_ != Stage::kClosing) BeginClose(now);
      break;
    case v1::RunCommand::kHeartbeat:
      break;  // it only refreshed the lease (last_command)
    case v1::RunCommand::COMMAND_NOT_SET:
      // Perhaps a newer coordinator's command; it still proves liveness.
      LOG_WARNING("run %s: ignored a command of unknown kind", config_.run_id);
      break;
  }
  return std::nullopt;
}

RunEnd RunLoop::Finish(const PhaseSummary& summary) {
  if (summary.phase != v1::RUN_PHASE_CLOSED) {
    LOG_WARNING("run %s: workers did not report closed within %s; ending them", config_.run_id,
                absl::FormatDuration(config_.timings.close_timeout));
  }
  // Ending the workers closes whatever they still held, so CLOSED is true of
  // the final report either way.
  workers_.Terminate(config_.timings.terminate_grace);
  v1::RunReport report = workers_.BuildReport();
  report.set_phase(v1::RUN_PHASE_CLOSED);
  report.set_open(0);
  report.set_in_flight(0);
  if (!reports_.Write(report)) {
    return RunEnd{absl::CancelledError("the coordinator's stream broke before the final report"), true};
  }
  return RunEnd{absl::OkStatus(), false};
}

std::optional<RunEnd> RunLoop::Step(absl::Time now, StreamInput input, bool shutting_down) {
  workers_.KeepAlive();  // the front is turning: the workers' lease holds
  last_command_ = std::max(last_command_, input.last_command);
  if (input.ended) {
    stream_ended_ = true;
    stream_broke_ = input.broke;
  }

  if (shutting_down) {
    RunEnd end = Fail(absl::UnavailableError("agent is shutting down: closed every connection of the run"));
    end.cancel_stream = true;  // shutdown does not wait for the client
    return end;
  }

  for (const v1::RunCommand& command : input.commands) {
    if (std::optional<RunEnd> end = Apply(command, now)) return end;
  }

  if (stream_ended_ && !half_closed_) {
    if (stream_broke_) return Abandon(absl::CancelledError("the coordinator's stream broke"));
    // Half-close: no command can follow, so the lease could never be kept.
    // The coordinator is still listening: close gracefully and report.
    half_closed_ = true;
    if (stage_ != Stage::kClosing) {
      LOG_INFO("run %s: the coordinator ended its commands without close: closing", config_.run_id);
      BeginClose(now);
    }
  }
  // The lease holds while the coordinator can still send; once closing, the
  // run ends within close_timeout anyway. A silent coordinator may still be
  // reading: tell it why in a FAILED report before the stream is cancelled.
  if (stage_ != Stage::kClosing && now - last_command_ > config_.lease) {
    absl::Status expired = absl::DeadlineExceededError(
        absl::StrCat("no command for ", absl::FormatDuration(now - last_command_), " (lease ",
                     absl::FormatDuration(config_.lease), "): closed every connection of the run"));
    LOG_WARNING("run %s: %s", config_.run_id, expired.message());
    return Fail(expired);
  }

  std::vector<WorkerPool::Exit> exits = workers_.Reap();
  if (!exits.empty()) {
    std::vector<std::string> lines;
    for (const WorkerPool::Exit& exit : exits) lines.push_back(exit.Describe());
    return Fail(absl::AbortedError(absl::StrJoin(lines, "; ")));
  }

  const PhaseSummary summary = workers_.Phase();
  if (summary.phase == v1::RUN_PHASE_FAILED) {
    v1::RunReport report = workers_.BuildReport();
    return Fail(absl::AbortedError(report.error().empty() ? "a worker failed" : report.error()));
  }
  bool force_report = false;
  if (stage_ == Stage::kStarting) {
    if (summary.phase == v1::RUN_PHASE_UNSPECIFIED) {
      if (now > start_deadline_) {
        return Fail(absl::DeadlineExceededError(absl::StrCat(
            "worker processes were not ready within ", absl::FormatDuration(config_.timings.start_timeout))));
      }
      return std::nullopt;  // no report before every worker is ready
    }
    stage_ = Stage::kRunning;
    force_report = true;
  }

  if (stage_ == Stage::kClosing && (summary.phase == v1::RUN_PHASE_CLOSED || now > close_deadline_)) {
    return Finish(summary);
  }

  // Reports every interval, and at once when the phase or echo progress
  // moves so the coordinator's barrier does not wait for the interval.
  if (force_report || !(summary == last_sent_) || now >= next_report_) {
    v1::RunReport report = workers_.BuildReport();
    if (config_.metrics != nullptr) config_.metrics->Update(report);
    if (!reports_.Write(report)) {
      return Abandon(absl::CancelledError("the coordinator's stream broke"));
    }
    last_sent_ = PhaseSummary{report.phase(), report.echo_rounds_done()};
    next_report_ = now + config_.report_interval;
  }
  return std::nullopt;
}

}  // namespace fourtuple::agent
