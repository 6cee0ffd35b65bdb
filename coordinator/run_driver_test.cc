// Drives runs against in-process fake agents (real gRPC servers on loopback)
// to prove the phase logic: assignment contents, barrier, echo rounds,
// heartbeats, close, and what happens when an agent refuses, breaks, fails or
// goes silent. The real agent is exercised by tests/e2e.
#include "coordinator/run_driver.h"

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/in_process_grpc_server.h"

namespace fourtuple::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

enum class Behavior {
  kNormal,
  kRefuse,              // FAILED_PRECONDITION after the assignment
  kBreakAfterConnect,   // the stream ends (UNAVAILABLE) once CONNECTED
  kFailOnConnect,       // reports RUN_PHASE_FAILED on connect
  kSilentAfterConnect,  // keeps the stream but sends no more reports
  kFailSome,            // 10% of its connections fail with ECONNREFUSED
  kSlowEcho,            // an echo round takes 2 s, answered in 8 steps 250 ms apart
  kStalledEcho,         // never answers an echo (reports keep coming, unchanged)
};

// Answers each command with a report, as a real agent would at its next
// report interval (heartbeats arrive every interval, so reports keep coming).
class FakeAgent final : public v1::Agent::Service {
 public:
  explicit FakeAgent(Behavior behavior, std::string host) : behavior_(behavior), host_(std::move(host)) {}

  // What a refusing agent answers.
  void set_refusal(std::string refusal) { refusal_ = std::move(refusal); }

  grpc::Status Probe(grpc::ServerContext*, const v1::ProbeRequest*, v1::HostFacts* facts) override {
    facts->set_hostname(host_);
    facts->set_processes(2);
    return grpc::Status::OK;
  }

  grpc::Status Run(grpc::ServerContext* context,
                   grpc::ServerReaderWriter<v1::RunReport, v1::RunCommand>* stream) override {
    v1::RunCommand command;
    if (!stream->Read(&command) || !command.has_assignment()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "first command must be assignment");
    }
    v1::Assignment assignment = command.assignment();
    {
      absl::MutexLock lock(&mu_);
      assignment_ = assignment;
    }
    if (behavior_ == Behavior::kRefuse) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, refusal_);
    }
    v1::RunReport report;
    report.set_host(host_);
    report.set_processes(2);
    report.set_requested(assignment.connections());
    report.set_phase(v1::RUN_PHASE_READY);
    stream->Write(report);
    bool silent = false;
    while (stream->Read(&command)) {
      {
        absl::MutexLock lock(&mu_);
        commands_.push_back(command.command_case());
      }
      switch (command.command_case()) {
        case v1::RunCommand::kConnect: {
          if (behavior_ == Behavior::kFailOnConnect) {
            report.set_phase(v1::RUN_PHASE_FAILED);
            report.set_error("worker 0 (pid 1) killed by SIGKILL");
            stream->Write(report);
            continue;
          }
          const uint64_t n = assignment.connections();
          const uint64_t failed = behavior_ == Behavior::kFailSome ? n / 10 : 0;
          report.set_phase(v1::RUN_PHASE_CONNECTED);
          report.set_attempted(n);
          report.set_established(n - failed);
          report.set_open(n - failed);
          report.set_failed(failed);
          if (failed > 0) (*report.mutable_failures())["ECONNREFUSED"] = failed;
          for (uint64_t i = 0; i < n - failed; ++i) {
            const std::string& source = assignment.source_addresses(i % assignment.source_addresses_size());
            ++(*report.mutable_established_by_source())[source];
            connect_.Record(100 + i % 50);
          }
          connect_.ToProto(report.mutable_connect_latency());
          stream->Write(report);
          if (behavior_ == Behavior::kBreakAfterConnect) {
            return grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent went away");
          }
          silent = behavior_ == Behavior::kSilentAfterConnect;
          break;
        }
        case v1::RunCommand::kEcho: {
          report.set_phase(v1::RUN_PHASE_CONNECTED);
          if (behavior_ == Behavior::kStalledEcho) {
            report.set_echo_round(command.echo().round());
            stream->Write(report);
            break;
          }
          if (behavior_ == Behavior::kSlowEcho) {
            report.set_echo_round(command.echo().round());
            constexpr int kSteps = 8;
            for (int step = 1; step < kSteps; ++step) {
              absl::SleepFor(absl::Milliseconds(250));
              report.set_echo_verified(report.echo_verified() + report.open() / kSteps);
              stream->Write(report);
            }
            absl::SleepFor(absl::Milliseconds(250));
            report.set_echo_verified(report.echo_verified() + report.open() -
                                     (kSteps - 1) * (report.open() / kSteps));
            report.set_echo_rounds_done(command.echo().round());
            stream->Write(report);
            break;
          }
          report.set_echo_round(command.echo().round());
          report.set_echo_rounds_done(command.echo().round());
          report.set_echo_sent(report.echo_sent() + report.open());
          report.set_echo_verified(report.echo_verified() + report.open());
          for (uint64_t i = 0; i < report.open(); ++i) echo_.Record(30);
          echo_.ToProto(report.mutable_echo_rtt());
          if (!silent) stream->Write(report);
          break;
        }
        case v1::RunCommand::kClose:
          if (silent) break;
          report.set_phase(v1::RUN_PHASE_CLOSED);
          report.set_open(0);
          stream->Write(report);
          return grpc::Status::OK;
        case v1::RunCommand::kHeartbeat:
          if (!silent) stream->Write(report);
          break;
        default:
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unexpected command");
      }
    }
    (void)context;
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream ended");
  }

  v1::Assignment assignment() {
    absl::MutexLock lock(&mu_);
    return assignment_;
  }
  std::vector<int> commands() {
    absl::MutexLock lock(&mu_);
    return commands_;
  }
  int Count(v1::RunCommand::CommandCase which) {
    int n = 0;
    for (int c : commands()) n += c == which;
    return n;
  }

 private:
  const Behavior behavior_;
  const std::string host_;
  std::string refusal_ = "another run is in progress";
  Histogram connect_, echo_;
  absl::Mutex mu_;
  v1::Assignment assignment_ ABSL_GUARDED_BY(mu_);
  std::vector<int> commands_ ABSL_GUARDED_BY(mu_);
};

class FakeTarget final : public v1::TargetControl::Service {
 public:
  grpc::Status GetStats(grpc::ServerContext*, const v1::GetStatsRequest*, v1::TargetStats* stats) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    // Open rises then falls, so open_at_peak must be the max seen.
    stats->mutable_total()->set_open(calls_ == 1 ? 300 : 250);
    stats->mutable_total()->set_accepted(300 + calls_);
    return grpc::Status::OK;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

using Server = ::fourtuple::testing::InProcessGrpcServer;
Server StartServer(grpc::Service* service) { return ::fourtuple::testing::StartInProcessGrpcServer(service); }

// A loopback port that takes connections (the kernel completes the handshake)
// but never says a word: a control endpoint that hangs. Close the fd after.
std::pair<int, std::string> MuteEndpoint() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  listen(fd, 16);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return {fd, absl::StrCat("127.0.0.1:", ntohs(address.sin_port))};
}

// A loopback port nothing listens on.
std::string ClosedEndpoint() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

Plan FastPlan(const std::vector<std::string>& agents, uint64_t connections) {
  Plan plan;
  plan.target_endpoints = {"127.0.0.1:9000", "127.0.0.1:9002"};
  for (size_t i = 0; i < agents.size(); ++i) {
    AgentPlan agent;
    agent.endpoint = agents[i];
    agent.source_specs = {absl::StrCat("127.0.", i + 1, ".1-127.0.", i + 1, ".3")};
    for (int j = 1; j <= 3; ++j) {
      agent.source_addresses.push_back(absl::StrCat("127.0.", i + 1, ".", j));
    }
    plan.agents.push_back(agent);
  }
  plan.connections = connections;
  plan.connect_rate = 1000;
  plan.max_in_flight = 64;
  plan.hold = absl::Milliseconds(300);
  plan.echo.rounds = 2;
  plan.echo.interval = absl::Milliseconds(50);
  plan.echo.timeout = absl::Seconds(1);
  plan.report_interval = absl::Milliseconds(50);
  plan.lease = absl::Milliseconds(400);
  return plan;
}

RunOptions Options(Plan plan) {
  RunOptions options;
  options.plan = std::move(plan);
  options.run_id = "test-run";
  options.probe_timeout = absl::Seconds(2);
  options.ready_timeout = absl::Seconds(5);
  options.close_timeout = absl::Seconds(2);
  options.progress = [](absl::string_view) {};
  return options;
}

TEST(RunDriverTest, TwoAgentsPass) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kNormal, "host-b");
  FakeTarget target;
  Server sa = StartServer(&a), sb = StartServer(&b), st = StartServer(&target);
  Plan plan = FastPlan({sa.endpoint, sb.endpoint}, 301);
  plan.target_control = st.endpoint;
  std::vector<std::string> progress;
  RunOptions options = Options(plan);
  options.progress = [&progress](absl::string_view line) { progress.emplace_back(line); };

  absl::StatusOr<RunRecord> record = DriveRun(options);
  ASSERT_TRUE(record.ok()) << record.status();

  // What each agent was told.
  const v1::Assignment assignment = a.assignment();
  EXPECT_EQ(assignment.run_id(), "test-run");
  EXPECT_EQ(assignment.agent_index(), 0u);
  EXPECT_EQ(b.assignment().agent_index(), 1u);
  EXPECT_THAT(assignment.targets(), ElementsAre("127.0.0.1:9000", "127.0.0.1:9002"));
  EXPECT_THAT(assignment.source_addresses(), ElementsAre("127.0.1.1", "127.0.1.2", "127.0.1.3"));
  EXPECT_EQ(assignment.connections(), 151u);
  EXPECT_EQ(b.assignment().connections(), 150u);
  EXPECT_NEAR(assignment.connect_rate() + b.assignment().connect_rate(), 1000, 1e-9);
  EXPECT_EQ(assignment.max_in_flight(), 32u);
  EXPECT_EQ(assignment.connect_timeout_ms(), 5000u);
  EXPECT_EQ(assignment.payload_bytes(), 16u);
  EXPECT_EQ(assignment.echo_timeout_ms(), 1000u);
  EXPECT_EQ(assignment.report_interval_ms(), 50u);
  EXPECT_EQ(assignment.lease_ms(), 400u);

  // The phase commands, in order, with heartbeats in between.
  for (FakeAgent* agent : {&a, &b}) {
    std::vector<int> phases;
    for (int c : agent->commands()) {
      if (c != v1::RunCommand::kHeartbeat) phases.push_back(c);
    }
    EXPECT_THAT(phases, ElementsAre(v1::RunCommand::kConnect, v1::RunCommand::kEcho, v1::RunCommand::kEcho,
                                    v1::RunCommand::kClose));
    // The hold alone is 300 ms at 50 ms intervals.
    EXPECT_GE(agent->Count(v1::RunCommand::kHeartbeat), 3);
  }
  EXPECT_EQ(target.calls(), 2);

  ASSERT_EQ(record->agents.size(), 2u);
  EXPECT_EQ(record->agents[0].state, AgentState::kDone);
  EXPECT_EQ(record->agents[1].state, AgentState::kDone);
  EXPECT_EQ(record->peak_open, 301u);
  EXPECT_FALSE(record->barrier_timed_out);
  ASSERT_GE(record->timeline.size(), 2u);
  EXPECT_EQ(record->timeline.front().t, 0);
  EXPECT_EQ(record->timeline.back().agents_open.size(), 2u);
  uint64_t peak_a = 0;
  for (const TimelineSample& sample : record->timeline) {
    ASSERT_EQ(sample.agents_open.size(), 2u);
    EXPECT_EQ(sample.agents_open[0] + sample.agents_open[1], sample.open);
    peak_a = std::max(peak_a, sample.agents_open[0]);
  }
  EXPECT_EQ(peak_a, 151u);
  EXPECT_TRUE(record->agents[0].has_facts);
  EXPECT_EQ(record->agents[0].facts.hostname(), "host-a");
  EXPECT_FALSE(progress.empty());
  ASSERT_TRUE(record->target.has_value());
  EXPECT_EQ(record->target->open_at_peak, 300u);
  EXPECT_EQ(record->target->accepted, 302u);

  const Report report = BuildReport(*record);
  EXPECT_TRUE(report.pass) << report.json.dump(2);
  EXPECT_EQ(report.json["totals"]["established"], 301);
  EXPECT_EQ(report.json["totals"]["echo_verified"], 602);
  EXPECT_EQ(report.json["agents"][0]["host"], "host-a");
  EXPECT_EQ(report.json["agents"][0]["by_source_address"]["127.0.1.1"], 51);
  EXPECT_EQ(report.json["agents"][1]["by_source_address"]["127.0.2.3"], 50);
  EXPECT_EQ(report.json["target"]["open_at_peak"], 300);
  EXPECT_EQ(report.json["latency_ms"]["connect"]["count"], 301);
}

TEST(RunDriverTest, SendExpectGoesIntoTheAssignmentAndRoundsZeroOnlyHolds) {
  FakeAgent a(Behavior::kNormal, "host-a");
  Server sa = StartServer(&a);
  Plan plan = FastPlan({sa.endpoint}, 100);
  plan.echo.send = "PING\r\n";
  plan.echo.expect = "+PONG\r\n";
  plan.echo.rounds = 0;
  absl::StatusOr<RunRecord> record = DriveRun(Options(plan));
  ASSERT_TRUE(record.ok()) << record.status();
  const v1::Assignment assignment = a.assignment();
  EXPECT_EQ(assignment.echo_send(), "PING\r\n");
  EXPECT_EQ(assignment.echo_expect(), "+PONG\r\n");
  EXPECT_EQ(assignment.payload_bytes(), 0u);  // the agent refuses both
  std::vector<int> phases;
  for (int c : a.commands()) {
    if (c != v1::RunCommand::kHeartbeat) phases.push_back(c);
  }
  EXPECT_THAT(phases, ElementsAre(v1::RunCommand::kConnect, v1::RunCommand::kClose));
  const Report report = BuildReport(*record);
  EXPECT_TRUE(report.pass) << report.json.dump(2);
  EXPECT_EQ(report.json["totals"]["echo_verified"], 0);
  EXPECT_EQ(report.json["plan"]["echo"]["send"], "PING\r\n");
}

TEST(RunDriverTest, FailedConnectionsFailTheRun) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kFailSome, "host-b");
  Server sa = StartServer(&a), sb = StartServer(&b);
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 200)));
  ASSERT_TRUE(record.ok()) << record.status();
  const Report report = BuildReport(*record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["totals"]["established"], 190);
  EXPECT_EQ(report.json["failures"]["ECONNREFUSED"], 10);
}

TEST(RunDriverTest, UnreachableAgentFailsBeforeTheStart) {
  FakeAgent a(Behavior::kNormal, "host-a");
  Server sa = StartServer(&a);
  const std::string closed = ClosedEndpoint();
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, closed}, 10)));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(record.status().message(), HasSubstr("agent " + closed + " is unreachable"));
  // The reachable agent got its assignment but never a connect command.
  EXPECT_EQ(a.Count(v1::RunCommand::kConnect), 0);
}

TEST(RunDriverTest, RefusingAgentShowsItsMessage) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kRefuse, "host-b");
  Server sa = StartServer(&a), sb = StartServer(&b);
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 10)));
  ASSERT_FALSE(record.ok());
  EXPECT_THAT(record.status().message(),
              HasSubstr("agent " + sb.endpoint +
                        " refused the run (FAILED_PRECONDITION): another run is in progress"));
  EXPECT_EQ(a.Count(v1::RunCommand::kConnect), 0);
}

// The refusal is the agent's text: its control characters come back
// escaped, one line per problem agent, whatever it holds.
TEST(RunDriverTest, RefusalTextIsEscaped) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kRefuse, "host-b");
  b.set_refusal("busy\x1b[2J\ncoordinator: the run started");
  Server sa = StartServer(&a), sb = StartServer(&b);
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 10)));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(std::string(record.status().message()),
            "agent " + sb.endpoint +
                " refused the run (FAILED_PRECONDITION): busy\\x1b[2J\\ncoordinator: the run started");
}

TEST(RunDriverTest, BrokenStreamMarksTheAgentLostAndTheOtherFinishes) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kBreakAfterConnect, "host-b");
  Server sa = StartServer(&a), sb = StartServer(&b);
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 100)));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->agents[0].state, AgentState::kDone);
  EXPECT_EQ(record->agents[1].state, AgentState::kLost);
  EXPECT_THAT(record->agents[1].error, HasSubstr("agent went away"));
  EXPECT_EQ(record->agents[1].last.established(), 50u);  // its last known counts
  EXPECT_EQ(a.Count(v1::RunCommand::kClose), 1);
  EXPECT_EQ(a.Count(v1::RunCommand::kEcho), 2);
  const Report report = BuildReport(*record);
  EXPECT_FALSE(report.pass);
  EXPECT_EQ(report.json["agents"][1]["state"], "lost");
}

TEST(RunDriverTest, FailedAgent) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kFailOnConnect, "host-b");
  Server sa = StartServer(&a), sb = StartServer(&b);
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 100)));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->agents[0].state, AgentState::kDone);
  EXPECT_EQ(record->agents[1].state, AgentState::kFailed);
  EXPECT_THAT(record->agents[1].error, HasSubstr("killed by SIGKILL"));
  EXPECT_FALSE(BuildReport(*record).pass);
}

TEST(RunDriverTest, SilentAgentIsLostAfterItsLease) {
  FakeAgent a(Behavior::kNormal, "host-a"), b(Behavior::kSilentAfterConnect, "host-b");
  Server sa = StartServer(&a), sb = StartServer(&b);
  const absl::Time start = absl::Now();
  absl::StatusOr<RunRecord> record = DriveRun(Options(FastPlan({sa.endpoint, sb.endpoint}, 100)));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->agents[1].state, AgentState::kLost);
  EXPECT_THAT(record->agents[1].error, HasSubstr("no report for"));
  EXPECT_EQ(record->agents[0].state, AgentState::kDone);
  // Set aside after the lease, not after the echo round's whole timeout.
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

// A round that takes longer than echo.timeout + report delay + margin but
// keeps answering is not late: at a million connections a round lasts as
// long as max_in_flight paces it.
TEST(RunDriverTest, ASlowEchoRoundThatKeepsAnsweringIsNotLate) {
  FakeAgent a(Behavior::kSlowEcho, "host-a");
  Server sa = StartServer(&a);
  Plan plan = FastPlan({sa.endpoint}, 80);
  plan.echo.rounds = 1;
  RunOptions options = Options(plan);
  options.echo_stall_margin = absl::Milliseconds(100);  // stalls after 1.2 s: the round takes 2 s
  absl::StatusOr<RunRecord> record = DriveRun(options);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_THAT(record->notes, ::testing::IsEmpty());
  EXPECT_GE(record->echo_seconds, 1.9);
  const Report report = BuildReport(*record);
  EXPECT_TRUE(report.pass) << report.json.dump(2);
  EXPECT_EQ(report.json["totals"]["echo_verified"], 80);
}

// A round with no echo settled anywhere for echo.timeout + report delay +
// margin is late: noted, the report fails and says time gave.
TEST(RunDriverTest, AStalledEchoRoundIsLate) {
  FakeAgent a(Behavior::kStalledEcho, "host-a");
  Server sa = StartServer(&a);
  Plan plan = FastPlan({sa.endpoint}, 80);
  plan.echo.rounds = 1;
  RunOptions options = Options(plan);
  options.echo_stall_margin = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  absl::StatusOr<RunRecord> record = DriveRun(options);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_THAT(record->notes,
              ElementsAre(absl::StrCat("echo round 1 did not finish in time on ", sa.endpoint)));
  const Report report = BuildReport(*record);
  EXPECT_FALSE(report.pass);
  ASSERT_TRUE(report.json["what_gave"].is_array()) << report.json.dump(2);
  EXPECT_EQ(report.json["what_gave"].back()["limit"], "time") << report.json["what_gave"].dump();
}

TEST(RunDriverTest, StopGoesStraightToClose) {
  FakeAgent a(Behavior::kNormal, "host-a");
  Server sa = StartServer(&a);
  Plan plan = FastPlan({sa.endpoint}, 10);
  plan.hold = absl::Seconds(60);
  std::atomic<bool> stop{false};
  RunOptions options = Options(plan);
  options.stop = &stop;
  int lines = 0;
  options.progress = [&](absl::string_view) {
    if (++lines == 10) stop = true;
  };
  const absl::Time start = absl::Now();
  absl::StatusOr<RunRecord> record = DriveRun(options);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_TRUE(record->interrupted);
  EXPECT_EQ(record->agents[0].state, AgentState::kDone);
  EXPECT_EQ(a.Count(v1::RunCommand::kClose), 1);
  EXPECT_FALSE(BuildReport(*record).pass);
}

// GetStats used to run on the driver's thread: a control port that never
// answered held it for the whole call deadline with no heartbeat sent, and
// the agents were lost to their lease.
TEST(RunDriverTest, AMuteTargetControlPortDoesNotStallTheHeartbeats) {
  FakeAgent a(Behavior::kNormal, "host-a");
  Server sa = StartServer(&a);
  auto [mute_fd, mute_endpoint] = MuteEndpoint();
  Plan plan = FastPlan({sa.endpoint}, 50);
  plan.target_control = mute_endpoint;
  RunOptions options = Options(plan);
  options.probe_timeout = absl::Seconds(3);  // far past the 400 ms lease

  const absl::Time start = absl::Now();
  absl::StatusOr<RunRecord> record = DriveRun(options);
  close(mute_fd);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->agents[0].state, AgentState::kDone) << record->agents[0].error;
  // Nor does the end of the run wait for the call's deadline.
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_TRUE(record->target.has_value());
  EXPECT_FALSE(record->target->queried);
  EXPECT_THAT(record->target->error, HasSubstr(mute_endpoint));

  const Report report = BuildReport(*record);
  EXPECT_TRUE(report.pass) << report.json.dump(2);
  EXPECT_FALSE(report.json["target"].contains("open_at_peak"));
  EXPECT_THAT(report.json["target"]["error"].get<std::string>(), HasSubstr("no answer"));
  EXPECT_THAT(FormatSummary(report.json), HasSubstr("target: no counts"));
}

}  // namespace
}  // namespace fourtuple::coordinator
