// RunAgentWorker in real worker processes (WorkerPool::Fork), commanded over
// their control sockets as the agent front does, against an echo server on
// loopback. The pool forks before the server thread starts: fork() is only
// safe while this process has one thread.
#include "agent/worker/worker_process.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/worker/worker_protocol.h"
#include "common/worker_pool.h"
#include "gtest/gtest.h"
#include "proto/fourtuple.pb.h"
#include "tests/support/test_echo_server.h"

namespace fourtuple::agent {
namespace {

using testing::TestEchoServer;

std::unique_ptr<WorkerPool> ForkWorkers(int count) {
  absl::StatusOr<std::unique_ptr<WorkerPool>> pool = WorkerPool::Fork(
      count, sizeof(AgentWorkerShared), [](WorkerContext& context) { return RunAgentWorker(context); });
  EXPECT_TRUE(pool.ok()) << pool.status();
  return pool.ok() ? *std::move(pool) : nullptr;
}

AgentWorkerShared& Shared(WorkerPool& pool, int i) {
  return *static_cast<AgentWorkerShared*>(pool.shared(i));
}

WorkerPhase Phase(WorkerPool& pool, int i) {
  return static_cast<WorkerPhase>(Shared(pool, i).phase.load(std::memory_order_acquire));
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

std::string StartCommand(const std::string& target, uint64_t first, uint64_t connections,
                         uint32_t payload_bytes = 32, uint32_t lease_ms = 0) {
  v1::WorkerCommand command;
  v1::WorkerStart* start = command.mutable_start();
  v1::Assignment* a = start->mutable_assignment();
  a->set_agent_index(1);
  a->add_targets(target);
  for (int i = 1; i <= 4; ++i) a->add_source_addresses("127.0.2." + std::to_string(i));
  a->set_connect_timeout_ms(5000);
  a->set_payload_bytes(payload_bytes);
  a->set_echo_timeout_ms(5000);
  a->set_lease_ms(lease_ms);
  start->set_first_connection(first);
  start->set_connections(connections);
  start->set_max_in_flight(128);
  return command.SerializeAsString();
}

std::string Command(v1::WorkerCommand::CommandCase which, uint32_t round = 0) {
  v1::WorkerCommand command;
  if (which == v1::WorkerCommand::kConnect) command.mutable_connect();
  if (which == v1::WorkerCommand::kEcho) command.mutable_echo()->set_round(round);
  if (which == v1::WorkerCommand::kClose) command.mutable_close();
  return command.SerializeAsString();
}

// Reaps every worker, waiting up to `timeout`; exit codes by index (-1 when
// it did not exit normally).
std::vector<int> ReapAll(WorkerPool& pool, absl::Duration timeout = absl::Seconds(10)) {
  std::vector<int> codes(static_cast<size_t>(pool.count()), -1);
  WaitFor(
      [&] {
        for (const WorkerPool::Exit& exit : pool.Reap()) {
          codes[static_cast<size_t>(exit.index)] =
              WIFEXITED(exit.wait_status) ? WEXITSTATUS(exit.wait_status) : -1;
        }
        return pool.alive_count() == 0;
      },
      timeout);
  return codes;
}

TEST(RunAgentWorkerTest, TwoWorkersOpenEchoCloseAndExitOnEndOfControl) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(2);
  ASSERT_NE(pool, nullptr);
  TestEchoServer server;
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(pool->Send(i, StartCommand(server.endpoint(), i * 1000, 1000)).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Phase(*pool, 0) == WorkerPhase::kReady && Phase(*pool, 1) == WorkerPhase::kReady; }));
  ASSERT_TRUE(pool->SendAll(Command(v1::WorkerCommand::kConnect)).ok());
  ASSERT_TRUE(WaitFor([&] {
    return Phase(*pool, 0) == WorkerPhase::kConnected && Phase(*pool, 1) == WorkerPhase::kConnected;
  }));
  for (int i = 0; i < 2; ++i) {
    AgentWorkerShared& s = Shared(*pool, i);
    EXPECT_EQ(s.established.load(), 1000u) << i;
    EXPECT_EQ(s.open.load(), 1000u) << i;
    EXPECT_EQ(s.failed.load(), 0u) << i;
    for (int source = 0; source < 4; ++source) EXPECT_EQ(s.source_counts[source].established.load(), 250u);
    EXPECT_EQ(s.connect_latency.count.load(), 1000u);
  }
  ASSERT_TRUE(WaitFor([&] { return server.open() == 2000; })) << server.open();

  ASSERT_TRUE(pool->SendAll(Command(v1::WorkerCommand::kEcho, 1)).ok());
  ASSERT_TRUE(WaitFor([&] {
    return Shared(*pool, 0).echo_rounds_done.load() == 1 && Shared(*pool, 1).echo_rounds_done.load() == 1;
  }));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Shared(*pool, i).echo_verified.load(), 1000u) << i;
    EXPECT_EQ(Shared(*pool, i).echo_rtt.count.load(), 1000u) << i;
  }

  ASSERT_TRUE(pool->SendAll(Command(v1::WorkerCommand::kClose)).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Phase(*pool, 0) == WorkerPhase::kClosed && Phase(*pool, 1) == WorkerPhase::kClosed; }));
  EXPECT_EQ(Shared(*pool, 0).open.load() + Shared(*pool, 1).open.load(), 0u);
  ASSERT_TRUE(WaitFor([&] { return server.open() == 0; })) << server.open();

  // The front going away (end of file on the control socket) ends the worker.
  for (int i = 0; i < 2; ++i) shutdown(pool->control_fd(i), SHUT_RDWR);
  EXPECT_EQ(ReapAll(*pool), (std::vector<int>{0, 0}));
}

TEST(RunAgentWorkerTest, EndOfControlClosesOpenConnections) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(1);
  ASSERT_NE(pool, nullptr);
  TestEchoServer server;
  ASSERT_TRUE(pool->Send(0, StartCommand(server.endpoint(), 0, 400)).ok());
  ASSERT_TRUE(pool->Send(0, Command(v1::WorkerCommand::kConnect)).ok());
  ASSERT_TRUE(WaitFor([&] { return server.open() == 400; })) << server.open();
  shutdown(pool->control_fd(0), SHUT_RDWR);
  EXPECT_EQ(ReapAll(*pool), std::vector<int>{0});
  ASSERT_TRUE(WaitFor([&] { return server.open() == 0; })) << server.open();
}

// A front that stops (SIGSTOP, a hang) keeps the control socket open, so only
// the worker's own lease can end its load: worker 0's front keeps beating,
// worker 1's falls silent and must close its connections and exit 1, saying
// why.
TEST(RunAgentWorkerTest, AWorkerWhoseFrontFallsSilentPastTheLeaseClosesEverything) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(2);
  ASSERT_NE(pool, nullptr);
  TestEchoServer server;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pool->Send(i, StartCommand(server.endpoint(), i * 200, 200, 32, /*lease_ms=*/300)).ok());
  }
  auto beat = [&] { Shared(*pool, 0).front_beats.fetch_add(1, std::memory_order_relaxed); };
  ASSERT_TRUE(pool->SendAll(Command(v1::WorkerCommand::kConnect)).ok());
  ASSERT_TRUE(WaitFor([&] {
    beat();
    return server.open() == 400 || Phase(*pool, 1) == WorkerPhase::kFailed;
  })) << server.open();

  std::vector<WorkerPool::Exit> exits;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(WaitFor(
      [&] {
        beat();
        for (WorkerPool::Exit& exit : pool->Reap()) exits.push_back(exit);
        return !exits.empty() && server.open() == 200;
      },
      absl::Seconds(10)))
      << server.open();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].index, 1);
  EXPECT_TRUE(WIFEXITED(exits[0].wait_status) && WEXITSTATUS(exits[0].wait_status) == 1)
      << exits[0].Describe();
  EXPECT_NE(std::string(Shared(*pool, 1).error).find("front was silent"), std::string::npos)
      << Shared(*pool, 1).error;
  EXPECT_EQ(Shared(*pool, 1).open.load(), 0u);
  // The worker whose front kept beating holds on.
  EXPECT_EQ(Phase(*pool, 0), WorkerPhase::kConnected);
  EXPECT_EQ(Shared(*pool, 0).open.load(), 200u);

  shutdown(pool->control_fd(0), SHUT_RDWR);
  EXPECT_EQ(ReapAll(*pool)[0], 0);
  ASSERT_TRUE(WaitFor([&] { return server.open() == 0; })) << server.open();
}

TEST(RunAgentWorkerTest, SigtermClosesEverythingAndExitsZero) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(1);
  ASSERT_NE(pool, nullptr);
  TestEchoServer server;
  ASSERT_TRUE(pool->Send(0, StartCommand(server.endpoint(), 0, 500)).ok());
  ASSERT_TRUE(pool->Send(0, Command(v1::WorkerCommand::kConnect)).ok());
  ASSERT_TRUE(WaitFor([&] { return Phase(*pool, 0) == WorkerPhase::kConnected; }));
  ASSERT_TRUE(WaitFor([&] { return server.open() == 500; })) << server.open();
  std::vector<WorkerPool::Exit> exits = pool->Terminate(absl::Seconds(5));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_TRUE(WIFEXITED(exits[0].wait_status)) << exits[0].Describe();
  EXPECT_EQ(WEXITSTATUS(exits[0].wait_status), 0) << exits[0].Describe();
  EXPECT_EQ(Phase(*pool, 0), WorkerPhase::kClosed);
  ASSERT_TRUE(WaitFor([&] { return server.open() == 0; })) << server.open();
}

TEST(RunAgentWorkerTest, RefusedCommandsBecomeTheWorkersError) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(1);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Send(0, StartCommand("127.0.0.1:9", 0, 10, /*payload_bytes=*/8)).ok());
  ASSERT_TRUE(WaitFor([&] { return Shared(*pool, 0).error_set.load(std::memory_order_acquire) == 1; }));
  EXPECT_EQ(Phase(*pool, 0), WorkerPhase::kFailed);
  EXPECT_NE(std::string(Shared(*pool, 0).error).find("payload_bytes"), std::string::npos)
      << Shared(*pool, 0).error;
  shutdown(pool->control_fd(0), SHUT_RDWR);
  EXPECT_EQ(ReapAll(*pool), std::vector<int>{1});
}

TEST(RunAgentWorkerTest, UnparseableCommandIsReported) {
  std::unique_ptr<WorkerPool> pool = ForkWorkers(1);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(pool->Send(0, std::string("\xff\xff\xff\xff not a protobuf", 20)).ok());
  ASSERT_TRUE(WaitFor([&] { return Phase(*pool, 0) == WorkerPhase::kFailed; }));
  EXPECT_NE(std::string(Shared(*pool, 0).error).find("unparseable"), std::string::npos)
      << Shared(*pool, 0).error;
  shutdown(pool->control_fd(0), SHUT_RDWR);
  EXPECT_EQ(ReapAll(*pool), std::vector<int>{1});
}

TEST(RunAgentWorkerTest, TooSmallSharedBlockExitsOne) {
  absl::StatusOr<std::unique_ptr<WorkerPool>> pool =
      WorkerPool::Fork(1, 64, [](WorkerContext& context) { return RunAgentWorker(context); });
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(ReapAll(**pool), std::vector<int>{1});
}

}  // namespace
}  // namespace fourtuple::agent
