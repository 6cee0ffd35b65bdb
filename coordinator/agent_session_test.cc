// AgentSession against in-process fake agents (real gRPC servers on
// loopback): an agent that stops reading its stream must hold up neither the
// caller of Send nor the commands to other agents, and the session must
// still end promptly however the stuck call ends.
#include "coordinator/agent_session.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/in_process_grpc_server.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Takes the assignment, reports READY, then reads its stream only as the
// test says: a healthy agent reads everything, a stuck one nothing until
// released (then it ends the call) or cancelled.
class FakeAgent final : public v1::Agent::Service {
 public:
  explicit FakeAgent(bool stuck) : stuck_(stuck) {}

  grpc::Status Probe(grpc::ServerContext*, const v1::ProbeRequest*, v1::HostFacts* facts) override {
    facts->set_hostname("fake");
    return grpc::Status::OK;
  }

  grpc::Status Run(grpc::ServerContext* context,
                   grpc::ServerReaderWriter<v1::RunReport, v1::RunCommand>* stream) override {
    v1::RunCommand command;
    if (!stream->Read(&command) || !command.has_assignment()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first command must be assignment");
    }
    v1::RunReport report;
    report.set_phase(v1::RUN_PHASE_READY);
    report.set_open(3);
    (*report.mutable_failures())["ECONNREFUSED"] = 1;
    (*report.mutable_established_by_source())["127.0.0.1"] = 3;
    (*report.mutable_connect_latency()->mutable_buckets())[7] = 3;
    report.mutable_connect_latency()->set_count(3);
    stream->Write(report);
    if (stuck_) {
      while (!release_.WaitForNotificationWithTimeout(absl::Milliseconds(10))) {
        if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent went away");
    }
    while (stream->Read(&command)) {
      absl::MutexLock lock(&mu_);
      commands_.push_back(command.command_case());
    }
    return grpc::Status::OK;  // the coordinator half-closed
  }

  // Waits until `n` commands arrived; false after `timeout`.
  bool WaitForCommands(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return commands_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
  }
  std::vector<int> commands() {
    absl::MutexLock lock(&mu_);
    return commands_;
  }
  void Release() { release_.Notify(); }

 private:
  const bool stuck_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<int> commands_ ABSL_GUARDED_BY(mu_);
};

using Server = ::fourtuple::testing::InProcessGrpcServer;
Server StartServer(grpc::Service* service) { return ::fourtuple::testing::StartInProcessGrpcServer(service); }

// Waits until `done` holds for the session's snapshot; false after `timeout`.
template <typename Predicate>
bool WaitFor(AgentSession& session, Notifier& notifier, absl::Duration timeout, Predicate done) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const uint64_t generation = notifier.generation();
    if (done(session.snapshot())) return true;
    if (absl::Now() >= deadline) return false;
    notifier.WaitForChange(generation, deadline);
  }
}

bool Ended(const AgentSession::Snapshot& s) { return s.stage == AgentSession::Stage::kEnded; }

// Starts a session and waits for the agent's READY report.
void StartAndWaitReady(AgentSession& session, Notifier& notifier) {
  v1::Assignment assignment;
  assignment.set_run_id("test-run");
  session.Start(assignment, absl::Seconds(2));
  ASSERT_TRUE(WaitFor(session, notifier, absl::Seconds(5), [](const AgentSession::Snapshot& s) {
    return s.has_report || s.stage == AgentSession::Stage::kEnded;
  }));
  ASSERT_TRUE(session.snapshot().has_report) << session.snapshot().end_status;
}

// Far more than an HTTP/2 flow-control window: the stuck agent's transport
// stops taking bytes long before these are written.
constexpr int kBigCommands = 16;
v1::RunCommand BigCommand() {
  v1::RunCommand command;
  command.mutable_assignment()->set_echo_send(std::string(1 << 20, 'x'));
  return command;
}

v1::RunCommand Echo(uint32_t round) {
  v1::RunCommand command;
  command.mutable_echo()->set_round(round);
  return command;
}

v1::RunCommand Heartbeat() {
  v1::RunCommand command;
  command.mutable_heartbeat();
  return command;
}

// Cancels `session` if the test has not finished by then, so a Send that
// blocks fails the test instead of hanging it.
class Watchdog {
 public:
  Watchdog(AgentSession& session, absl::Duration after)
      : thread_([this, &session, after] {
          if (!done_.WaitForNotificationWithTimeout(after)) session.Cancel();
        }) {}
  ~Watchdog() {
    done_.Notify();
    thread_.join();
  }

 private:
  absl::Notification done_;
  std::thread thread_;
};

TEST(AgentSessionTest, AStuckAgentDelaysNeitherTheCallerNorAHealthyAgent) {
  FakeAgent stuck_agent(/*stuck=*/true), healthy_agent(/*stuck=*/false);
  Server stuck_server = StartServer(&stuck_agent), healthy_server = StartServer(&healthy_agent);
  Notifier notifier;
  AgentSession stuck(stuck_server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  AgentSession healthy(healthy_server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  StartAndWaitReady(stuck, notifier);
  StartAndWaitReady(healthy, notifier);
  Watchdog watchdog(stuck, absl::Seconds(10));

  // As the driver sends a phase command: to every agent in turn.
  const absl::Time start = absl::Now();
  for (int i = 0; i < kBigCommands; ++i) EXPECT_TRUE(stuck.Send(BigCommand()));
  EXPECT_TRUE(healthy.Send(Echo(1)));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_TRUE(healthy_agent.WaitForCommands(1, absl::Seconds(2)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_THAT(healthy_agent.commands(), ElementsAre(v1::RunCommand::kEcho));

  // Heartbeats to the stuck agent wait behind what is queued: they neither
  // block nor pile up.
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(stuck.Send(Heartbeat()));
  EXPECT_EQ(stuck.snapshot().stage, AgentSession::Stage::kStreaming);

  // Ending the stuck call ends its session at once, its writes included.
  const absl::Time cancel = absl::Now();
  stuck.Cancel();
  stuck.Join();
  EXPECT_LT(absl::Now() - cancel, absl::Seconds(1));
  EXPECT_TRUE(Ended(stuck.snapshot()));
  EXPECT_EQ(healthy.snapshot().stage, AgentSession::Stage::kStreaming);
}

// The agent ends the call itself while the coordinator's writes to it are
// stuck: the session ends with the agent's status, without a Cancel.
TEST(AgentSessionTest, AStuckAgentThatEndsItsCallEndsTheSession) {
  FakeAgent stuck_agent(/*stuck=*/true);
  Server server = StartServer(&stuck_agent);
  Notifier notifier;
  AgentSession session(server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  StartAndWaitReady(session, notifier);
  Watchdog watchdog(session, absl::Seconds(10));
  for (int i = 0; i < kBigCommands; ++i) EXPECT_TRUE(session.Send(BigCommand()));
  absl::SleepFor(absl::Milliseconds(100));  // the writer is stuck in its write now
  stuck_agent.Release();
  ASSERT_TRUE(WaitFor(session, notifier, absl::Seconds(3), Ended));
  EXPECT_EQ(session.snapshot().end_status.code(), absl::StatusCode::kUnavailable)
      << session.snapshot().end_status;
  EXPECT_THAT(session.snapshot().end_status.message(), HasSubstr("agent went away"));
  EXPECT_FALSE(session.Send(Echo(1)));
  session.Join();
}

// An agent that leaves kMaxQueuedCommands untaken has stopped taking
// commands: its call is ended and the session says why.
TEST(AgentSessionTest, TooManyUntakenCommandsEndTheCall) {
  FakeAgent stuck_agent(/*stuck=*/true);
  Server server = StartServer(&stuck_agent);
  Notifier notifier;
  AgentSession session(server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  StartAndWaitReady(session, notifier);
  Watchdog watchdog(session, absl::Seconds(10));
  for (int i = 0; i < kBigCommands; ++i) EXPECT_TRUE(session.Send(BigCommand()));
  int refused_at = 0;
  for (uint32_t round = 1; round <= 2 * AgentSession::kMaxQueuedCommands && refused_at == 0; ++round) {
    if (!session.Send(Echo(round))) refused_at = static_cast<int>(round);
  }
  EXPECT_GT(refused_at, 0);
  ASSERT_TRUE(WaitFor(session, notifier, absl::Seconds(3), Ended));
  const absl::Status status = session.snapshot().end_status;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("took none of the last 32 commands"));
  session.Join();
}

// Commands reach a healthy agent in order, and the half-close follows the
// last of them.
TEST(AgentSessionTest, CommandsArriveInOrderThenTheHalfClose) {
  FakeAgent agent(/*stuck=*/false);
  Server server = StartServer(&agent);
  Notifier notifier;
  AgentSession session(server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  StartAndWaitReady(session, notifier);
  v1::RunCommand connect, close;
  connect.mutable_connect();
  close.mutable_close();
  EXPECT_TRUE(session.Send(connect));
  EXPECT_TRUE(session.Send(Echo(1)));
  EXPECT_TRUE(session.Send(Heartbeat()));
  EXPECT_TRUE(session.Send(close));
  session.WritesDone();
  EXPECT_FALSE(session.Send(Heartbeat()));  // nothing after the half-close
  ASSERT_TRUE(WaitFor(session, notifier, absl::Seconds(3), Ended));
  EXPECT_TRUE(session.snapshot().end_status.ok()) << session.snapshot().end_status;
  // The heartbeat may have been dropped behind the echo; the rest arrive in order.
  std::vector<int> phases;
  for (int c : agent.commands()) {
    if (c != v1::RunCommand::kHeartbeat) phases.push_back(c);
  }
  EXPECT_THAT(phases, ElementsAre(v1::RunCommand::kConnect, v1::RunCommand::kEcho, v1::RunCommand::kClose));
  session.Join();
}

TEST(AgentSessionTest, ALightSnapshotLeavesTheHistogramsAndPerSourceCountsInTheSession) {
  FakeAgent agent(/*stuck=*/false);
  Server server = StartServer(&agent);
  Notifier notifier;
  AgentSession session(server.endpoint, grpc::InsecureChannelCredentials(), &notifier);
  StartAndWaitReady(session, notifier);
  for (int i = 0; i < 2; ++i) {  // the heavy parts went back after the first
    const AgentSession::Snapshot light = session.light_snapshot();
    EXPECT_EQ(light.report.phase(), v1::RUN_PHASE_READY);
    EXPECT_EQ(light.report.open(), 3u);
    EXPECT_EQ(light.report.failures().at("ECONNREFUSED"), 1u);
    EXPECT_FALSE(light.report.has_connect_latency());
    EXPECT_TRUE(light.report.established_by_source().empty());
    const AgentSession::Snapshot full = session.snapshot();
    EXPECT_EQ(full.report.connect_latency().count(), 3u);
    EXPECT_EQ(full.report.established_by_source().at("127.0.0.1"), 3u);
    EXPECT_FALSE(full.report.has_echo_rtt());  // absent stays absent
  }
  session.WritesDone();
  ASSERT_TRUE(WaitFor(session, notifier, absl::Seconds(3), Ended));
  session.Join();
}

}  // namespace
}  // namespace fourtuple::coordinator
