// The run loop against fake workers and a fake stream, on a made-up clock:
// every lease, interval and timeout here is exact, and nothing sleeps.
#include "agent/run_loop.h"

#include <sys/wait.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fourtuple::agent {

// For readable failures: gtest prints std::optional<RunEnd> through it.
void PrintTo(const RunEnd& end, std::ostream* os) {
  *os << "RunEnd{" << end.status << (end.cancel_stream ? ", cancel_stream" : "") << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Workers that do as the test says: their phase, exits and counts are set
// by hand; commands forwarded to them are recorded.
class FakeWorkers final : public RunWorkers {
 public:
  absl::Status Forward(const v1::WorkerCommand& command) override {
    if (terminated) return absl::FailedPreconditionError("the run's workers are gone");
    forwarded.push_back(command);
    return absl::OkStatus();
  }
  std::vector<WorkerPool::Exit> Reap() override {
    if (terminated) return {};
    return std::exchange(exits, {});
  }
  void KeepAlive() override { ++keep_alives; }
  PhaseSummary Phase() const override { return phase; }
  v1::RunReport BuildReport() override {
    v1::RunReport report;
    report.set_seq(++seq);
    report.set_phase(phase.phase);
    report.set_echo_rounds_done(phase.echo_rounds_done);
    report.set_open(open);
    report.set_in_flight(in_flight);
    report.set_error(error);
    return report;
  }
  void Terminate(absl::Duration /*grace*/) override {
    terminated = true;  // a real worker's sockets close with it
    open = 0;
    in_flight = 0;
  }

  // What forwarded commands were, as "connect", "echo 2", "close".
  std::vector<std::string> ForwardedKinds() const {
    std::vector<std::string> kinds;
    for (const v1::WorkerCommand& command : forwarded) {
      if (command.has_connect()) kinds.push_back("connect");
      if (command.has_echo()) kinds.push_back("echo " + std::to_string(command.echo().round()));
      if (command.has_close()) kinds.push_back("close");
    }
    return kinds;
  }

  PhaseSummary phase;  // UNSPECIFIED: still starting
  uint64_t open = 0;
  uint64_t in_flight = 0;
  std::string error;
  std::vector<WorkerPool::Exit> exits;
  std::vector<v1::WorkerCommand> forwarded;
  bool terminated = false;
  uint64_t seq = 0;
  int keep_alives = 0;  // turns that renewed the workers' lease
};

// The coordinator's end of the stream: keeps every report with the time it
// was written; a broken one refuses them.
class FakeStream final : public ReportSink {
 public:
  explicit FakeStream(const absl::Time* clock) : clock_(clock) {}
  bool Write(const v1::RunReport& report) override {
    if (broken) return false;
    reports.push_back(report);
    times.push_back(*clock_);
    return true;
  }

  std::vector<v1::RunReport> reports;
  std::vector<absl::Time> times;
  bool broken = false;

 private:
  const absl::Time* clock_;
};

v1::RunCommand Connect() {
  v1::RunCommand command;
  command.mutable_connect();
  return command;
}
v1::RunCommand Echo(uint32_t round) {
  v1::RunCommand command;
  command.mutable_echo()->set_round(round);
  return command;
}
v1::RunCommand Close() {
  v1::RunCommand command;
  command.mutable_close();
  return command;
}
v1::RunCommand Heartbeat() {
  v1::RunCommand command;
  command.mutable_heartbeat();
  return command;
}

constexpr absl::Duration kInterval = absl::Seconds(1);
constexpr absl::Duration kLease = absl::Seconds(10);
constexpr absl::Duration kPoll = absl::Milliseconds(20);

class RunLoopTest : public ::testing::Test {
 protected:
  RunLoopTest() {
    RunLoop::Config config;
    config.run_id = "test";
    config.report_interval = kInterval;
    config.lease = kLease;
    config.started = now_;
    config.timings.poll = kPoll;
    config.timings.start_timeout = absl::Seconds(30);
    config.timings.close_timeout = absl::Seconds(60);
    loop_ = std::make_unique<RunLoop>(config, workers_, stream_, now_);
  }

  // One turn at the current time with these commands (arriving now).
  std::optional<RunEnd> Step(std::vector<v1::RunCommand> commands = {}) {
    StreamInput input;
    if (!commands.empty()) input.last_command = now_;
    for (v1::RunCommand& command : commands) input.commands.push_back(std::move(command));
    return loop_->Step(now_, std::move(input));
  }
  // The stream ended: half-closed, or broken.
  std::optional<RunEnd> StepStreamEnded(bool broke) {
    StreamInput input;
    input.ended = true;
    input.broke = broke;
    return loop_->Step(now_, std::move(input));
  }
  // Turns every poll period for `duration`, as the service does, with no
  // command; stops at the run's end.
  std::optional<RunEnd> RunFor(absl::Duration duration) {
    const absl::Time until = now_ + duration;
    while (now_ + kPoll <= until) {
      now_ += kPoll;
      if (std::optional<RunEnd> end = Step()) return end;
    }
    return std::nullopt;
  }
  // Workers ready and the first report sent.
  void Ready() {
    workers_.phase.phase = v1::RUN_PHASE_READY;
    ASSERT_EQ(Step(), std::nullopt);
    ASSERT_EQ(stream_.reports.size(), 1u);
  }
  const v1::RunReport& LastReport() const { return stream_.reports.back(); }

  const absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
  absl::Time now_ = t0_;
  FakeWorkers workers_;
  FakeStream stream_{&now_};
  std::unique_ptr<RunLoop> loop_;
};

TEST_F(RunLoopTest, NoReportUntilEveryWorkerIsReady) {
  EXPECT_EQ(RunFor(absl::Seconds(5)), std::nullopt);
  EXPECT_TRUE(stream_.reports.empty());
  workers_.phase.phase = v1::RUN_PHASE_READY;
  now_ += kPoll;
  EXPECT_EQ(Step(), std::nullopt);
  ASSERT_EQ(stream_.reports.size(), 1u);  // at once, not after an interval
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_READY);
}

// Workers close their connections when the front stops renewing their lease
// (worker_protocol.h): every turn renews it, whatever else happens.
TEST_F(RunLoopTest, EveryTurnRenewsTheWorkersLease) {
  const int before = workers_.keep_alives;
  EXPECT_EQ(Step(), std::nullopt);  // starting
  Ready();
  now_ += kPoll;
  EXPECT_EQ(Step(), std::nullopt);
  EXPECT_EQ(workers_.keep_alives, before + 3);  // Ready() turns once too
}

TEST_F(RunLoopTest, CommandsAreForwardedInOrder) {
  Ready();
  now_ += kPoll;
  EXPECT_EQ(Step({Connect(), Heartbeat(), Echo(1), Echo(2)}), std::nullopt);
  now_ += kPoll;
  EXPECT_EQ(Step({Echo(5), Close()}), std::nullopt);
  EXPECT_THAT(workers_.ForwardedKinds(), ElementsAre("connect", "echo 1", "echo 2", "echo 5", "close"));
  EXPECT_FALSE(workers_.terminated);
}

TEST_F(RunLoopTest, ASecondConnectAndCommandsAfterCloseAreNotForwarded) {
  Ready();
  EXPECT_EQ(Step({Connect(), Connect(), Echo(1), Close(), Connect(), Echo(2), Close()}), std::nullopt);
  EXPECT_THAT(workers_.ForwardedKinds(), ElementsAre("connect", "echo 1", "close"));
}

TEST_F(RunLoopTest, AnEchoRoundThatDoesNotCountUpFailsTheRun) {
  Ready();
  std::optional<RunEnd> end = Step({Connect(), Echo(2), Echo(2)});
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(end->status.message(), HasSubstr("echo.round: 2 after round 2"));
  EXPECT_FALSE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
  EXPECT_EQ(LastReport().error(), end->status.message());
}

TEST_F(RunLoopTest, ASecondAssignmentFailsTheRun) {
  Ready();
  v1::RunCommand assignment;
  assignment.mutable_assignment()->set_run_id("again");
  std::optional<RunEnd> end = Step({assignment});
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
}

TEST_F(RunLoopTest, AReportEveryInterval) {
  Ready();  // at t0
  ASSERT_EQ(RunFor(absl::Seconds(5)), std::nullopt);
  ASSERT_EQ(stream_.reports.size(), 6u);
  for (size_t i = 0; i < stream_.reports.size(); ++i) {
    EXPECT_EQ(stream_.times[i], t0_ + i * kInterval) << "report " << i;
    EXPECT_EQ(stream_.reports[i].seq(), i + 1);
  }
}

TEST_F(RunLoopTest, PhaseOrEchoProgressReportsAtOnceAndRestartsTheInterval) {
  Ready();  // at t0
  ASSERT_EQ(RunFor(absl::Milliseconds(300)), std::nullopt);
  workers_.phase.phase = v1::RUN_PHASE_CONNECTED;
  ASSERT_EQ(RunFor(kPoll), std::nullopt);
  const absl::Time connected = t0_ + absl::Milliseconds(320);
  ASSERT_EQ(RunFor(absl::Milliseconds(400)), std::nullopt);
  workers_.phase = PhaseSummary{v1::RUN_PHASE_CONNECTED, 1};  // a round done
  ASSERT_EQ(RunFor(kPoll), std::nullopt);
  const absl::Time round_done = connected + absl::Milliseconds(420);
  ASSERT_EQ(RunFor(absl::Milliseconds(1500)), std::nullopt);
  EXPECT_THAT(stream_.times, ElementsAre(t0_, connected, round_done, round_done + kInterval));
  EXPECT_EQ(stream_.reports[1].phase(), v1::RUN_PHASE_CONNECTED);
  EXPECT_EQ(stream_.reports[2].echo_rounds_done(), 1u);
}

TEST_F(RunLoopTest, TheLeaseExpiresWhenTheStreamStaysSilent) {
  workers_.open = 500;
  Ready();
  ASSERT_EQ(Step({Connect()}), std::nullopt);  // at t0
  workers_.phase.phase = v1::RUN_PHASE_CONNECTED;
  now_ = t0_ + kLease;  // a lease is kept up to its last instant
  EXPECT_EQ(Step(), std::nullopt);
  EXPECT_FALSE(workers_.terminated);
  now_ += absl::Milliseconds(1);
  std::optional<RunEnd> end = Step();
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(end->status.message(), HasSubstr("no command for 10.001s (lease 10s)"));
  EXPECT_THAT(end->status.message(), HasSubstr("closed every connection of the run"));
  // The silent coordinator may still read: it is told why, then the handler
  // waits reader_grace for it.
  EXPECT_FALSE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
  EXPECT_EQ(LastReport().open(), 0u);
  EXPECT_EQ(LastReport().error(), end->status.message());
}

TEST_F(RunLoopTest, HeartbeatsKeepTheLease) {
  Ready();
  for (int i = 1; i <= 4; ++i) {
    ASSERT_EQ(RunFor(absl::Seconds(9)), std::nullopt);
    ASSERT_EQ(Step({Heartbeat()}), std::nullopt);
  }
  ASSERT_EQ(RunFor(kLease), std::nullopt);  // 46 s in: 10 s since the last heartbeat
  std::optional<RunEnd> end = RunFor(kPoll);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RunLoopTest, StreamEndClosesTheRunAndSendsTheFinalReport) {
  Ready();
  ASSERT_EQ(Step({Connect()}), std::nullopt);
  workers_.phase.phase = v1::RUN_PHASE_CONNECTED;
  workers_.open = 100;
  now_ += kPoll;
  ASSERT_EQ(StepStreamEnded(/*broke=*/false), std::nullopt);
  EXPECT_THAT(workers_.ForwardedKinds(), ElementsAre("connect", "close"));
  // Closing: no lease any more (no command can come), the run waits for the
  // workers to close.
  ASSERT_EQ(RunFor(2 * kLease), std::nullopt);
  EXPECT_FALSE(workers_.terminated);
  workers_.phase.phase = v1::RUN_PHASE_CLOSED;
  std::optional<RunEnd> end = RunFor(kPoll);
  ASSERT_NE(end, std::nullopt);
  EXPECT_TRUE(end->status.ok()) << end->status;
  EXPECT_FALSE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_CLOSED);
  EXPECT_EQ(LastReport().open(), 0u);
}

TEST_F(RunLoopTest, WorkersThatDoNotCloseAreEndedAfterTheCloseTimeout) {
  Ready();
  ASSERT_EQ(Step({Connect(), Close()}), std::nullopt);  // at t0
  workers_.phase.phase = v1::RUN_PHASE_CONNECTED;       // never CLOSED
  workers_.open = 100;
  now_ = t0_ + absl::Seconds(60);
  ASSERT_EQ(Step(), std::nullopt);
  now_ += absl::Milliseconds(1);
  std::optional<RunEnd> end = Step();
  ASSERT_NE(end, std::nullopt);
  EXPECT_TRUE(end->status.ok()) << end->status;
  EXPECT_TRUE(workers_.terminated);
  // Ending them closed their connections: the final report says CLOSED.
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_CLOSED);
  EXPECT_EQ(LastReport().open(), 0u);
}

TEST_F(RunLoopTest, ABrokenStreamEndsTheRunWithoutAReport) {
  Ready();
  ASSERT_EQ(Step({Connect()}), std::nullopt);
  std::optional<RunEnd> end = StepStreamEnded(/*broke=*/true);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(stream_.reports.size(), 1u);  // only Ready()'s
}

TEST_F(RunLoopTest, AReportTheStreamRefusesEndsTheRun) {
  Ready();
  stream_.broken = true;
  std::optional<RunEnd> end = RunFor(kInterval);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(now_, t0_ + kInterval);  // at the report that was due
}

TEST_F(RunLoopTest, AFinalReportTheStreamRefusesCancelsIt) {
  Ready();
  ASSERT_EQ(Step({Close()}), std::nullopt);
  workers_.phase.phase = v1::RUN_PHASE_CLOSED;
  stream_.broken = true;
  std::optional<RunEnd> end = RunFor(kPoll);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(end->cancel_stream);
}

TEST_F(RunLoopTest, AWorkerDeathIsReported) {
  Ready();
  ASSERT_EQ(Step({Connect()}), std::nullopt);
  const WorkerPool::Exit died{2, 4242, /*wait_status=*/3 << 8};  // exited with status 3
  ASSERT_TRUE(WIFEXITED(died.wait_status));
  workers_.exits = {died};
  now_ += kPoll;
  std::optional<RunEnd> end = Step();
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(end->status.message(), "worker 2 (pid 4242) exited with status 3");
  EXPECT_FALSE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
  EXPECT_EQ(LastReport().error(), "worker 2 (pid 4242) exited with status 3");
}

TEST_F(RunLoopTest, AWorkerThatFailedEndsTheRunWithItsMessage) {
  Ready();
  workers_.phase.phase = v1::RUN_PHASE_FAILED;
  workers_.error = "worker 0: no memory for a table of 5 connections";
  std::optional<RunEnd> end = RunFor(kPoll);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(end->status.message(), workers_.error);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
}

TEST_F(RunLoopTest, WorkersNotReadyWithinTheStartTimeoutFailTheRun) {
  ASSERT_EQ(Step({Heartbeat()}), std::nullopt);
  now_ = t0_ + absl::Seconds(30);
  ASSERT_EQ(Step({Heartbeat()}), std::nullopt);
  now_ += absl::Milliseconds(1);
  std::optional<RunEnd> end = Step();
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(end->status.message(), HasSubstr("not ready within 30s"));
  EXPECT_TRUE(workers_.terminated);
  ASSERT_EQ(stream_.reports.size(), 1u);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
}

TEST_F(RunLoopTest, ShutdownEndsTheRunAndCancelsTheStream) {
  Ready();
  ASSERT_EQ(Step({Connect()}), std::nullopt);
  std::optional<RunEnd> end = loop_->Step(now_, StreamInput{}, /*shutting_down=*/true);
  ASSERT_NE(end, std::nullopt);
  EXPECT_EQ(end->status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(end->cancel_stream);
  EXPECT_TRUE(workers_.terminated);
  EXPECT_EQ(LastReport().phase(), v1::RUN_PHASE_FAILED);
}

}  // namespace
}  // namespace fourtuple::agent
