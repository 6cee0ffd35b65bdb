#include "common/worker_pool.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

struct TestBlock {
  std::atomic<uint64_t> index_plus_one;
  std::atomic<uint64_t> commands_seen;
  char last_command[64];
};

// Worker body: records its index, then echoes each command back until EOF.
int EchoCommands(WorkerContext& context) {
  auto* block = static_cast<TestBlock*>(context.shared);
  block->index_plus_one = static_cast<uint64_t>(context.index) + 1;
  char buffer[64];
  for (;;) {
    ssize_t n = recv(context.control_fd, buffer, sizeof buffer - 1, 0);
    if (n <= 0) return 0;  // parent closed: done
    buffer[n] = '\0';
    std::memcpy(block->last_command, buffer, static_cast<size_t>(n) + 1);
    block->commands_seen++;
    if (std::strcmp(buffer, "exit3") == 0) return 3;
  }
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(5)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return condition();
}

TEST(WorkerPoolTest, ForkedWorkersShareBlocksAndReceiveCommands) {
  auto pool = WorkerPool::Fork(3, sizeof(TestBlock), EchoCommands);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_EQ((*pool)->count(), 3);
  for (int i = 0; i < 3; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    EXPECT_TRUE(WaitFor([&] { return block->index_plus_one.load() == static_cast<uint64_t>(i) + 1; }));
  }
  ASSERT_TRUE((*pool)->SendAll("hello").ok());
  for (int i = 0; i < 3; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    EXPECT_TRUE(WaitFor([&] { return block->commands_seen.load() == 1; }));
    EXPECT_STREQ(block->last_command, "hello");
  }
  EXPECT_EQ((*pool)->alive_count(), 3);
}

TEST(WorkerPoolTest, ParentNoticesADeadWorker) {
  auto pool = WorkerPool::Fork(2, sizeof(TestBlock), EchoCommands);
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_TRUE((*pool)->Send(1, "exit3").ok());
  std::vector<WorkerPool::Exit> exits;
  ASSERT_TRUE(WaitFor([&] {
    auto reaped = (*pool)->Reap();
    exits.insert(exits.end(), reaped.begin(), reaped.end());
    return !exits.empty();
  }));
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].index, 1);
  EXPECT_TRUE(WIFEXITED(exits[0].wait_status));
  EXPECT_EQ(WEXITSTATUS(exits[0].wait_status), 3);
  EXPECT_NE(exits[0].Describe().find("worker 1"), std::string::npos);
  EXPECT_FALSE((*pool)->alive(1));
  EXPECT_TRUE((*pool)->alive(0));
}

TEST(WorkerPoolTest, KilledWorkerIsDescribedBySignal) {
  auto pool = WorkerPool::Fork(1, sizeof(TestBlock), EchoCommands);
  ASSERT_TRUE(pool.ok()) << pool.status();
  kill((*pool)->pid(0), SIGKILL);
  std::vector<WorkerPool::Exit> exits;
  ASSERT_TRUE(WaitFor([&] {
    exits = (*pool)->Reap();
    return !exits.empty();
  }));
  EXPECT_NE(exits[0].Describe().find("killed by SIGKILL"), std::string::npos) << exits[0].Describe();
}

TEST(WorkerPoolTest, TerminateEndsEveryWorker) {
  auto pool = WorkerPool::Fork(2, sizeof(TestBlock), EchoCommands);
  ASSERT_TRUE(pool.ok()) << pool.status();
  pid_t pid0 = (*pool)->pid(0);
  auto exits = (*pool)->Terminate(absl::Seconds(2));
  EXPECT_EQ(exits.size(), 2u);
  EXPECT_EQ((*pool)->alive_count(), 0);
  EXPECT_NE(kill(pid0, 0), 0);
}

// A worker whose parent dies is killed (PR_SET_PDEATHSIG).
TEST(WorkerPoolTest, WorkersDieWithTheirParent) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t middle = fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    auto pool = WorkerPool::Fork(1, sizeof(TestBlock), [](WorkerContext&) {
      pause();
      return 0;
    });
    if (!pool.ok()) _exit(1);
    pid_t worker = (*pool)->pid(0);
    if (write(pipe_fds[1], &worker, sizeof worker) != sizeof worker) _exit(1);
    _exit(0);  // no destructor: the worker must die on its own
  }
  pid_t worker = -1;
  ASSERT_EQ(read(pipe_fds[0], &worker, sizeof worker), static_cast<ssize_t>(sizeof worker));
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  waitpid(middle, nullptr, 0);
  auto gone = [worker] {
    std::ifstream stat("/proc/" + std::to_string(worker) + "/stat");
    std::string pid, comm, state;
    if (!(stat >> pid >> comm >> state)) return true;
    return state == "Z";  // killed, not yet reaped by init
  };
  EXPECT_TRUE(WaitFor(gone)) << "worker " << worker << " outlived its parent";
}

// Exec'd workers: this test binary re-runs itself as the worker, filtered to
// the ExecChild test below.
TEST(WorkerPoolTest, ExecWorkersFindTheirBlockAndSocket) {
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(len, 0);
  self[len] = '\0';
  auto pool = WorkerPool::Exec(2, sizeof(TestBlock), {self, "--gtest_filter=WorkerPoolExecChild.*"});
  ASSERT_TRUE(pool.ok()) << pool.status();
  for (int i = 0; i < 2; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    EXPECT_TRUE(WaitFor([&] { return block->index_plus_one.load() == static_cast<uint64_t>(i) + 1; }));
  }
  ASSERT_TRUE((*pool)->SendAll("ping").ok());
  for (int i = 0; i < 2; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    EXPECT_TRUE(WaitFor([&] { return block->commands_seen.load() == 1; }));
  }
  auto exits = (*pool)->Terminate(absl::Seconds(2));
  EXPECT_EQ(exits.size(), 2u);
}

TEST(WorkerPoolExecChild, Serve) {
  if (!WorkerContext::IsExecWorker()) GTEST_SKIP() << "runs only as an exec'd worker";
  auto context = WorkerContext::FromEnvironment();
  ASSERT_TRUE(context.ok()) << context.status();
  _exit(EchoCommands(*context));
}

}  // namespace
}  // namespace fourtuple
