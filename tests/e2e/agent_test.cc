// The agent binary end to end, driven by hand over its gRPC API (no
// coordinator): Probe, a whole run against a real target-server, the refusals
// (busy, invalid, not allowed, too few processes), the lease (a broken or
// silent stream closes every connection), a dead worker, SIGTERM, bad flags.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace fourtuple {
namespace {

using ::fourtuple::testing::ChildrenOf;
using ::fourtuple::testing::MakeTempDir;
using ::fourtuple::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
using Stream = grpc::ClientReaderWriter<v1::RunCommand, v1::RunReport>;

std::vector<std::string> Sources(int count, int third_octet) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) out.push_back(absl::StrCat("127.0.", third_octet, ".", i));
  return out;
}

// One Run stream, driven step by step.
class RunStream {
 public:
  RunStream(v1::Agent::Stub* stub, absl::Duration deadline = absl::Seconds(120)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    stream_ = stub->Run(&context_);
  }

  bool Send(const v1::RunCommand& command) { return stream_->Write(command); }
  bool SendConnect() {
    v1::RunCommand command;
    command.mutable_connect();
    return Send(command);
  }
  bool SendEcho(uint32_t round) {
    v1::RunCommand command;
    command.mutable_echo()->set_round(round);
    return Send(command);
  }
  bool SendClose() {
    v1::RunCommand command;
    command.mutable_close();
    return Send(command);
  }
  bool SendHeartbeat() {
    v1::RunCommand command;
    command.mutable_heartbeat();
    return Send(command);
  }

  // Reads reports until `done` holds for one (returned) or the stream ends
  // or `timeout` passes (nullopt). Keeps the lease with heartbeats.
  std::optional<v1::RunReport> ReadUntil(const std::function<bool(const v1::RunReport&)>& done,
                                         absl::Duration timeout, bool heartbeat = true) {
    absl::Time deadline = absl::Now() + timeout;
    v1::RunReport report;
    while (absl::Now() < deadline && stream_->Read(&report)) {
      reports_.push_back(report);
      if (done(report)) return report;
      if (heartbeat) SendHeartbeat();
    }
    return std::nullopt;
  }

  // Half-closes, drains, and returns the final status.
  grpc::Status Finish() {
    stream_->WritesDone();
    v1::RunReport report;
    while (stream_->Read(&report)) reports_.push_back(report);
    return stream_->Finish();
  }

  void Cancel() { context_.TryCancel(); }
  const std::vector<v1::RunReport>& reports() const { return reports_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::vector<v1::RunReport> reports_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("agent-e2e"); }

  void StartTarget() {
    std::string ready = dir_ + "/target.ready";
    auto p = Subprocess::Start({TARGET_SERVER_BIN, "--listen=127.0.0.1:0", "--processes=2",
                                "--control=127.0.0.1:0", "--ready-file=" + ready},
                               "target-server", dir_);
    ASSERT_TRUE(p.ok()) << p.status();
    target_ = std::move(*p);
    auto j = target_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(j.ok()) << j.status();
    target_listen_ = (*j)["listen"][0].get<std::string>();
    target_control_ =
        grpc::CreateChannel((*j)["control"].get<std::string>(), grpc::InsecureChannelCredentials());
    target_stub_ = v1::TargetControl::NewStub(target_control_);
  }

  void StartAgent(const std::vector<std::string>& extra_flags = {}) {
    std::string ready = dir_ + "/agent.ready";
    std::vector<std::string> argv = {AGENT_BIN, "--listen=127.0.0.1:0", "--ready-file=" + ready};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    auto p = Subprocess::Start(argv, "agent", dir_);
    ASSERT_TRUE(p.ok()) << p.status();
    agent_ = std::move(*p);
    auto j = agent_->WaitForReadyFile(ready, kStartTimeout);
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)["listen"].is_array());
    agent_endpoint_ = (*j)["listen"][0].get<std::string>();
    EXPECT_THAT(agent_endpoint_, ::testing::StartsWith("127.0.0.1:"));
    EXPECT_NE(agent_endpoint_, "127.0.0.1:0");
    channel_ = grpc::CreateChannel(agent_endpoint_, grpc::InsecureChannelCredentials());
    stub_ = v1::Agent::NewStub(channel_);
  }

  v1::Assignment MakeAssignment(const std::string& run_id, uint64_t connections,
                                const std::vector<std::string>& sources) {
    v1::Assignment a;
    a.set_run_id(run_id);
    a.set_agent_index(3);
    a.add_targets(target_listen_.empty() ? "127.0.0.1:9" : target_listen_);
    for (const std::string& s : sources) a.add_source_addresses(s);
    a.set_connections(connections);
    a.set_connect_rate(0);
    a.set_max_in_flight(512);
    a.set_connect_timeout_ms(10000);
    a.set_payload_bytes(24);
    a.set_echo_timeout_ms(10000);
    a.set_report_interval_ms(100);
    a.set_lease_ms(10000);
    return a;
  }

  std::unique_ptr<RunStream> StartRun(const v1::Assignment& assignment) {
    auto run = std::make_unique<RunStream>(stub_.get());
    v1::RunCommand command;
    *command.mutable_assignment() = assignment;
    EXPECT_TRUE(run->Send(command));
    return run;
  }

  // A run refused before it starts: its status.
  grpc::Status RefusedRun(const v1::RunCommand& first) {
    RunStream run(stub_.get(), absl::Seconds(20));
    run.Send(first);
    std::optional<v1::RunReport> unexpected =
        run.ReadUntil([](const v1::RunReport&) { return true; }, absl::Seconds(10));
    EXPECT_FALSE(unexpected.has_value()) << "got a report: " << unexpected->DebugString();
    return run.Finish();
  }

  uint64_t TargetOpen() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::TargetStats stats;
    grpc::Status status = target_stub_->GetStats(&context, v1::GetStatsRequest(), &stats);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return stats.total().open();
  }

  // Polls target-server until `open` connections are open; false on timeout.
  bool WaitForTargetOpen(uint64_t open, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (TargetOpen() == open) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return TargetOpen() == open;
  }

  // A small run start to finish: proves the agent takes new runs. The
  // previous run may still be releasing its slot for a moment after its
  // connections closed, so FAILED_PRECONDITION is retried for a few seconds.
  void RunSmall(const std::string& run_id, uint64_t connections) {
    std::unique_ptr<RunStream> run;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (true) {
      run = StartRun(MakeAssignment(run_id, connections, Sources(2, 9)));
      if (run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_READY; },
                         absl::Seconds(30))) {
        break;
      }
      grpc::Status status = run->Finish();
      ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << status.error_message() << Diagnostics();
      ASSERT_LT(absl::Now(), deadline) << status.error_message();
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_TRUE(run->SendConnect());
    auto connected = run->ReadUntil(
        [](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; }, absl::Seconds(30));
    ASSERT_TRUE(connected.has_value()) << Diagnostics();
    EXPECT_EQ(connected->established(), connections);
    ASSERT_TRUE(run->SendClose());
    auto closed = run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CLOSED; },
                                 absl::Seconds(30));
    ASSERT_TRUE(closed.has_value()) << Diagnostics();
    grpc::Status status = run->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message() << Diagnostics();
  }

  std::string Diagnostics() const {
    std::string out = "\n";
    if (agent_) out += agent_->Describe() + "\n";
    if (target_) out += target_->Describe() + "\n";
    return out;
  }

  void StopAgent() {
    agent_->Signal(SIGTERM);
    auto code = agent_->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status() << Diagnostics();
    EXPECT_EQ(*code, 0) << Diagnostics();
  }

  std::string dir_;
  std::unique_ptr<Subprocess> target_;
  std::unique_ptr<Subprocess> agent_;
  std::string target_listen_;
  std::shared_ptr<grpc::Channel> target_control_;
  std::unique_ptr<v1::TargetControl::Stub> target_stub_;
  std::string agent_endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(AgentTest, ProbeReportsHostFacts) {
  StartAgent({"--host-label=lab-7", "--processes=3"});
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::HostFacts facts;
  grpc::Status status = stub_->Probe(&context, v1::ProbeRequest(), &facts);
  ASSERT_TRUE(status.ok()) << status.error_message() << Diagnostics();
  EXPECT_EQ(facts.hostname(), "lab-7");
  EXPECT_GE(facts.cores(), 1u);
  EXPECT_GT(facts.memory_total_bytes(), 0u);
  EXPECT_LE(facts.memory_available_bytes(), facts.memory_total_bytes());
  EXPECT_GT(facts.nofile_soft(), 0u);
  // The agent raises its soft limit to the hard one at start.
  EXPECT_EQ(facts.nofile_soft(), facts.nofile_hard());
  EXPECT_GT(facts.port_range_high(), facts.port_range_low());
  EXPECT_GT(facts.somaxconn(), 0u);
  EXPECT_THAT(facts.local_addresses(), ::testing::Contains("127.0.0.1"));
  EXPECT_FALSE(facts.version().empty());
  EXPECT_EQ(facts.processes(), 3u);
}

TEST_F(AgentTest, ProbeWithoutLabelGivesHostname) {
  StartAgent();
  grpc::ClientContext context;
  v1::HostFacts facts;
  ASSERT_TRUE(stub_->Probe(&context, v1::ProbeRequest(), &facts).ok());
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  EXPECT_EQ(facts.hostname(), hostname);
  EXPECT_EQ(facts.processes(), 0u) << "auto";
}

TEST_F(AgentTest, WholeRunAgainstTargetServer) {
  StartTarget();
  StartAgent();
  const std::vector<std::string> sources = Sources(4, 8);
  v1::Assignment assignment = MakeAssignment("whole-run", 3000, sources);
  auto run = StartRun(assignment);

  auto ready = run->ReadUntil([](const v1::RunReport& r) { return r.phase() != 0; }, absl::Seconds(30));
  ASSERT_TRUE(ready.has_value()) << Diagnostics();
  EXPECT_EQ(ready->phase(), v1::RUN_PHASE_READY);
  EXPECT_EQ(ready->requested(), 3000u);
  EXPECT_EQ(ready->attempted(), 0u);
  // --processes=auto: one worker per core (3000 connections fit one fd budget).
  v1::HostFacts facts;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->Probe(&context, v1::ProbeRequest(), &facts).ok());
  }
  EXPECT_EQ(ready->processes(), facts.cores());
  EXPECT_EQ(ready->host(), facts.hostname());
  EXPECT_GT(ready->elapsed_seconds(), 0);

  ASSERT_TRUE(run->SendConnect());
  auto connected = run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; },
                                  absl::Seconds(60));
  ASSERT_TRUE(connected.has_value()) << Diagnostics();
  EXPECT_EQ(connected->attempted(), 3000u);
  EXPECT_EQ(connected->established(), 3000u);
  EXPECT_EQ(connected->open(), 3000u);
  EXPECT_EQ(connected->failed(), 0u);
  EXPECT_EQ(connected->in_flight(), 0u);
  EXPECT_TRUE(connected->failures().empty());
  ASSERT_EQ(connected->established_by_source_size(), 4);
  for (const std::string& source : sources) {
    EXPECT_EQ(connected->established_by_source().at(source), 750u) << source;
  }
  EXPECT_EQ(connected->connect_latency().count(), 3000u);
  EXPECT_EQ(TargetOpen(), 3000u);
  // seq counts up from 1 with no gaps.
  for (size_t i = 0; i < run->reports().size(); ++i) {
    EXPECT_EQ(run->reports()[i].seq(), i + 1);
  }

  ASSERT_TRUE(run->SendEcho(1));
  auto echoed =
      run->ReadUntil([](const v1::RunReport& r) { return r.echo_rounds_done() >= 1; }, absl::Seconds(60));
  ASSERT_TRUE(echoed.has_value()) << Diagnostics();
  EXPECT_EQ(echoed->echo_round(), 1u);
  EXPECT_EQ(echoed->echo_sent(), 3000u);
  EXPECT_EQ(echoed->echo_verified(), 3000u);
  EXPECT_EQ(echoed->echo_mismatched() + echoed->echo_timed_out() + echoed->echo_closed(), 0u);
  EXPECT_EQ(echoed->echo_rtt().count(), 3000u);
  EXPECT_EQ(echoed->open(), 3000u);

  ASSERT_TRUE(run->SendClose());
  auto closed = run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CLOSED; },
                               absl::Seconds(60));
  ASSERT_TRUE(closed.has_value()) << Diagnostics();
  EXPECT_EQ(closed->open(), 0u);
  EXPECT_EQ(closed->established(), 3000u);
  EXPECT_EQ(closed->echo_verified(), 3000u);
  EXPECT_EQ(closed->closed_by_peer(), 0u);
  grpc::Status status = run->Finish();
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message() << Diagnostics();
  EXPECT_EQ(run->reports().back().phase(), v1::RUN_PHASE_CLOSED) << "CLOSED is the last report";
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Seconds(10))) << TargetOpen();

  // And the agent takes the next run.
  RunSmall("after-whole-run", 200);
  StopAgent();
}

TEST_F(AgentTest, SecondConcurrentRunIsRefused) {
  StartTarget();
  StartAgent();
  auto first = StartRun(MakeAssignment("first-run", 100, Sources(1, 8)));
  ASSERT_TRUE(
      first->ReadUntil([](const v1::RunReport& r) { return r.phase() != 0; }, absl::Seconds(30)).has_value())
      << Diagnostics();

  v1::RunCommand second;
  *second.mutable_assignment() = MakeAssignment("second-run", 100, Sources(1, 8));
  grpc::Status status = RefusedRun(second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("agent is busy with run first-run"));

  ASSERT_TRUE(first->SendClose());
  ASSERT_TRUE(first
                  ->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CLOSED; },
                              absl::Seconds(30))
                  .has_value());
  EXPECT_TRUE(first->Finish().ok());
  RunSmall("after-busy", 100);
}

TEST_F(AgentTest, InvalidAssignmentsAreRefused) {
  StartAgent();
  {
    v1::RunCommand connect_first;
    connect_first.mutable_connect();
    grpc::Status status = RefusedRun(connect_first);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("must carry the assignment"));
  }
  {
    v1::RunCommand command;
    *command.mutable_assignment() = MakeAssignment("zero", 0, Sources(1, 8));
    grpc::Status status = RefusedRun(command);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("assignment.connections"));
  }
  {
    v1::RunCommand command;
    *command.mutable_assignment() = MakeAssignment("foreign-source", 10, {"127.0.0.1", "192.0.2.77"});
    grpc::Status status = RefusedRun(command);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("source_addresses[1]: 192.0.2.77"));
  }
  {
    v1::RunCommand command;
    *command.mutable_assignment() = MakeAssignment("tiny-payload", 10, Sources(1, 8));
    command.mutable_assignment()->set_payload_bytes(4);
    grpc::Status status = RefusedRun(command);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("assignment.payload_bytes"));
  }
}

// A refused run's id is the caller's text: a line break in it must not
// forge a log line, and a 3 MiB id must not grow the log by megabytes. Each
// refusal adds one bounded line, with the id escaped.
TEST_F(AgentTest, RefusedRunIdsAreLoggedEscapedAndBounded) {
  StartAgent();
  const std::vector<std::string> ids = {"evil\nagent[1] E forged line", std::string(3 << 20, 'x')};
  for (const std::string& id : ids) {
    const size_t before = agent_->ReadStderr().size();
    v1::RunCommand command;
    *command.mutable_assignment() = MakeAssignment(id, 10, Sources(1, 8));
    grpc::Status status = RefusedRun(command);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message().substr(0, 200);
    EXPECT_THAT(status.error_message(), HasSubstr("assignment.run_id"));
    EXPECT_LT(status.error_message().size(), 1024u);
    const std::string added = agent_->ReadStderr().substr(before);
    EXPECT_EQ(std::count(added.begin(), added.end(), '\n'), 1) << added.substr(0, 400);
    EXPECT_LT(added.size(), 1024u) << id.size();
    EXPECT_THAT(added, HasSubstr("refused run"));
    EXPECT_THAT(added, Not(HasSubstr("\nagent[1] E forged")));
  }
  EXPECT_THAT(agent_->ReadStderr(), HasSubstr("evil\\nagent[1] E forged line"));
}

TEST_F(AgentTest, TargetOutsideAllowTargetsIsPermissionDenied) {
  StartAgent({"--allow-targets=127.0.0.0/16"});
  v1::RunCommand command;
  *command.mutable_assignment() = MakeAssignment("outside", 10, Sources(1, 8));
  command.mutable_assignment()->set_targets(0, "127.1.0.1:9000");
  grpc::Status status = RefusedRun(command);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("--allow-targets=127.0.0.0/16"));
  EXPECT_THAT(status.error_message(), HasSubstr("127.1.0.1:9000"));
}

TEST_F(AgentTest, TooFewProcessesForTheFdLimitIsResourceExhausted) {
  StartAgent({"--processes=1"});
  v1::RunCommand command;
  *command.mutable_assignment() = MakeAssignment("too-big", 1'000'000, Sources(16, 8));
  grpc::Status status = RefusedRun(command);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("1,000,000 connections need at least"));
  EXPECT_THAT(status.error_message(), HasSubstr("use --processes="));
}

TEST_F(AgentTest, BrokenStreamClosesEveryConnection) {
  StartTarget();
  StartAgent();
  v1::Assignment assignment = MakeAssignment("broken", 2000, Sources(2, 8));
  assignment.set_lease_ms(2000);
  auto run = StartRun(assignment);
  ASSERT_TRUE(run->SendConnect());
  ASSERT_TRUE(run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; },
                             absl::Seconds(60))
                  .has_value())
      << Diagnostics();
  ASSERT_EQ(TargetOpen(), 2000u);

  run->Cancel();
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Milliseconds(assignment.lease_ms()) + absl::Seconds(5)))
      << "still open: " << TargetOpen() << Diagnostics();
  run->Finish();
  RunSmall("after-break", 300);
  StopAgent();
  EXPECT_THAT(agent_->ReadStderr(), HasSubstr("stream broke"));
}

TEST_F(AgentTest, SilentCoordinatorLosesTheLease) {
  StartTarget();
  StartAgent();
  v1::Assignment assignment = MakeAssignment("silent", 1000, Sources(2, 8));
  assignment.set_lease_ms(1000);
  auto run = StartRun(assignment);
  ASSERT_TRUE(run->SendConnect());
  const absl::Time connect_sent = absl::Now();
  // No heartbeats: the agent must end the run once the lease runs out, and
  // say why in a FAILED report.
  std::optional<v1::RunReport> failed = run->ReadUntil(
      [](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_FAILED; }, absl::Seconds(30),
      /*heartbeat=*/false);
  ASSERT_TRUE(failed.has_value()) << Diagnostics();
  const absl::Duration ended_after = absl::Now() - connect_sent;
  EXPECT_GE(ended_after, absl::Milliseconds(900));
  EXPECT_LT(ended_after, absl::Seconds(10));
  EXPECT_THAT(failed->error(), HasSubstr("lease 1s"));
  EXPECT_EQ(failed->open(), 0u);
  bool connected = false;
  for (const v1::RunReport& r : run->reports()) connected |= r.phase() == v1::RUN_PHASE_CONNECTED;
  EXPECT_TRUE(connected) << "the ramp finished inside the lease";
  grpc::Status status = run->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("lease"));
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Seconds(5))) << TargetOpen() << Diagnostics();
  RunSmall("after-silence", 100);
}

TEST_F(AgentTest, HalfCloseWithoutCloseEndsTheRunGracefully) {
  StartTarget();
  StartAgent();
  auto run = StartRun(MakeAssignment("half-close", 500, Sources(2, 8)));
  ASSERT_TRUE(run->SendConnect());
  ASSERT_TRUE(run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; },
                             absl::Seconds(60))
                  .has_value())
      << Diagnostics();
  grpc::Status status = run->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message() << Diagnostics();
  ASSERT_FALSE(run->reports().empty());
  EXPECT_EQ(run->reports().back().phase(), v1::RUN_PHASE_CLOSED);
  EXPECT_EQ(run->reports().back().open(), 0u);
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Seconds(5))) << TargetOpen();
}

TEST_F(AgentTest, DeadWorkerFailsTheRun) {
  StartTarget();
  StartAgent({"--processes=2"});
  auto run = StartRun(MakeAssignment("worker-dies", 1000, Sources(2, 8)));
  ASSERT_TRUE(run->SendConnect());
  ASSERT_TRUE(run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; },
                             absl::Seconds(60))
                  .has_value())
      << Diagnostics();
  std::vector<pid_t> workers = ChildrenOf(agent_->pid());
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(kill(workers[1], SIGKILL), 0);

  auto failed = run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_FAILED; },
                               absl::Seconds(30));
  ASSERT_TRUE(failed.has_value()) << Diagnostics();
  EXPECT_THAT(failed->error(), HasSubstr(absl::StrCat("(pid ", workers[1], ") killed by SIGKILL")));
  EXPECT_EQ(failed->open(), 0u);
  grpc::Status status = run->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("killed by SIGKILL"));
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Seconds(10))) << TargetOpen();
  EXPECT_TRUE(ChildrenOf(agent_->pid()).empty()) << "the other worker was ended too";
  RunSmall("after-dead-worker", 100);
}

TEST_F(AgentTest, SigtermDuringARunClosesEverythingAndExitsZero) {
  StartTarget();
  StartAgent();
  auto run = StartRun(MakeAssignment("sigterm", 1000, Sources(2, 8)));
  ASSERT_TRUE(run->SendConnect());
  ASSERT_TRUE(run->ReadUntil([](const v1::RunReport& r) { return r.phase() == v1::RUN_PHASE_CONNECTED; },
                             absl::Seconds(60))
                  .has_value())
      << Diagnostics();
  ASSERT_EQ(TargetOpen(), 1000u);
  StopAgent();
  EXPECT_TRUE(WaitForTargetOpen(0, absl::Seconds(5))) << TargetOpen();
  EXPECT_FALSE(run->Finish().ok());
}

TEST_F(AgentTest, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> flags;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{"--listen=127.0.0.1"}, "--listen"},
      {{"--listen=127.0.0.1:99999"}, "--listen"},
      {{"--listen=0.0.0.0:0"}, "--insecure"},
      {{"--processes=0"}, "--processes"},
      {{"--processes=lots"}, "--processes"},
      {{"--allow-targets=10.0.0.0/99"}, "--allow-targets"},
      {{"--no-such-flag=1"}, "--no-such-flag"},
      {{"stray"}, "stray"},
      {{"--worker-binary=/nonexistent/agent-worker"}, "--worker-binary: /nonexistent/agent-worker"},
      {{"--worker-binary=/tmp"}, "--worker-binary: /tmp is not an executable file (not a regular file)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {AGENT_BIN};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto p = Subprocess::Start(argv, "bad-flags", dir_);
    ASSERT_TRUE(p.ok());
    auto code = (*p)->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << c.flags[0];
    EXPECT_EQ(*code, 2) << c.flags[0] << "\n" << (*p)->Describe();
    EXPECT_THAT((*p)->ReadStderr(), HasSubstr(c.named)) << c.flags[0];
  }
}

// --help prints the usage and every flag, on stdout, and exits 0.
TEST_F(AgentTest, HelpPrintsUsageAndExitsZero) {
  for (const char* help : {"--help", "-h"}) {
    auto p = Subprocess::Start({AGENT_BIN, help}, "help", dir_);
    ASSERT_TRUE(p.ok());
    auto code = (*p)->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << help;
    EXPECT_EQ(*code, 0) << help << "\n" << (*p)->Describe();
    const std::string out = (*p)->ReadStdout();
    EXPECT_THAT(out, HasSubstr("agent --listen=")) << help;
    EXPECT_THAT(out, HasSubstr("--token-file")) << help;
    EXPECT_THAT(out, HasSubstr("--source-ports")) << help;
    EXPECT_THAT(out, Not(HasSubstr("--flagfile"))) << help;
    EXPECT_THAT((*p)->ReadStderr(), Not(HasSubstr("unknown flag"))) << help;
  }
}

// A FIFO named as the token file: opening it for reading would wait for a
// writer forever; the agent refuses it at once, naming flag, file and kind.
TEST_F(AgentTest, TokenFileThatIsAFifoExitsTwo) {
  const std::string fifo = dir_ + "/token.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto p = Subprocess::Start({AGENT_BIN, "--listen=127.0.0.1:0", "--token-file=" + fifo}, "fifo-token", dir_);
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << "the agent blocked on the FIFO: " << code.status();
  EXPECT_EQ(*code, 2) << (*p)->Describe();
  EXPECT_THAT((*p)->ReadStderr(), HasSubstr("--token-file: token file " + fifo + " is a FIFO"));
  EXPECT_THAT((*p)->ReadStderr(), HasSubstr("expected a regular file"));
}

// The worker program is found next to the agent as "<agent>-worker": a copy
// of the agent without one says what is missing and how to fix it.
TEST_F(AgentTest, AgentWithoutItsWorkerProgramExitsTwoSayingWhatIsMissing) {
  const std::string copy = dir_ + "/lab-agent";
  ASSERT_TRUE(std::filesystem::copy_file(AGENT_BIN, copy));
  auto p = Subprocess::Start({copy, "--listen=127.0.0.1:0"}, "copied-agent", dir_);
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2) << (*p)->Describe();
  EXPECT_THAT((*p)->ReadStderr(),
              HasSubstr("--worker-binary: " + copy + "-worker is not an executable file"));
  EXPECT_THAT((*p)->ReadStderr(), HasSubstr("install agent-worker next to the agent"));
}

TEST_F(AgentTest, ListenAddressInUseFails) {
  StartAgent();
  std::vector<std::string> argv = {AGENT_BIN, "--listen=" + agent_endpoint_};
  auto p = Subprocess::Start(argv, "second-agent", dir_);
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << (*p)->Describe();
  EXPECT_NE(*code, 0);
  EXPECT_THAT((*p)->ReadStderr(), HasSubstr("--listen"));
}

}  // namespace
}  // namespace fourtuple
