#include "common/worker_spawner.h"

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fourtuple {
namespace {

struct TestBlock {
  std::atomic<int64_t> parent;     // getppid() as the worker saw it
  std::atomic<int64_t> open_fds;   // descriptors the worker holds
  std::atomic<uint64_t> index_plus_one;
  std::atomic<uint64_t> commands_seen;
};

int CountOpenFds() {
  int count = 0;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.' ? 1 : 0;
  closedir(dir);
  return count - 1;  // the directory's own descriptor
}

// Records what it sees of itself, then counts commands until EOF; "exit3"
// makes it exit with 3.
int CountCommands(WorkerContext& context) {
  auto* block = static_cast<TestBlock*>(context.shared);
  block->parent = getppid();
  block->open_fds = CountOpenFds();
  block->index_plus_one = static_cast<uint64_t>(context.index) + 1;
  char buffer[64];
  for (;;) {
    ssize_t n = recv(context.control_fd, buffer, sizeof buffer - 1, 0);
    if (n <= 0) return 0;
    buffer[n] = '\0';
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

bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field, comm, state;
  if (!(stat >> field >> comm >> state)) return true;
  return state == "Z";  // killed, not yet reaped
}

// The point of the spawner: workers forked on request once threads run (one
// here holds a lock the whole time, as a gRPC thread might), as children of
// the requester, each holding only its own control socket.
TEST(WorkerSpawnerTest, SpawnsChildrenOfTheRequesterWhileThreadsRun) {
  int fds_before = CountOpenFds();
  auto spawner = WorkerSpawner::Start(CountCommands);
  ASSERT_TRUE(spawner.ok()) << spawner.status();

  std::mutex held;
  std::atomic<bool> stop{false};
  std::thread holder([&] {
    std::lock_guard<std::mutex> lock(held);
    while (!stop) absl::SleepFor(absl::Milliseconds(1));
  });
  auto pool = (*spawner)->Spawn(3, sizeof(TestBlock));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_EQ((*pool)->count(), 3);
  for (int i = 0; i < 3; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    ASSERT_TRUE(WaitFor([&] { return block->index_plus_one.load() == static_cast<uint64_t>(i) + 1; }));
    EXPECT_EQ(block->parent.load(), getpid()) << "worker " << i;
    EXPECT_EQ(block->open_fds.load(), fds_before + 1) << "worker " << i << ": only its control socket is new";
  }
  ASSERT_TRUE((*pool)->SendAll("hello").ok());
  for (int i = 0; i < 3; ++i) {
    auto* block = static_cast<TestBlock*>((*pool)->shared(i));
    EXPECT_TRUE(WaitFor([&] { return block->commands_seen.load() == 1; }));
  }
  EXPECT_EQ((*pool)->Terminate(absl::Seconds(2)).size(), 3u);
  stop = true;
  holder.join();
}

TEST(WorkerSpawnerTest, SpawnsAgainForTheNextRunAndReapsExitStatus) {
  auto spawner = WorkerSpawner::Start(CountCommands);
  ASSERT_TRUE(spawner.ok()) << spawner.status();
  for (int run = 0; run < 2; ++run) {
    auto pool = (*spawner)->Spawn(2, sizeof(TestBlock));
    ASSERT_TRUE(pool.ok()) << pool.status();
    ASSERT_TRUE((*pool)->Send(1, "exit3").ok());
    std::vector<WorkerPool::Exit> exits;
    ASSERT_TRUE(WaitFor([&] {
      exits = (*pool)->Reap();
      return !exits.empty();
    }));
    ASSERT_EQ(exits.size(), 1u);
    EXPECT_EQ(exits[0].index, 1);
    EXPECT_TRUE(WIFEXITED(exits[0].wait_status) && WEXITSTATUS(exits[0].wait_status) == 3)
        << exits[0].Describe();
    EXPECT_TRUE((*pool)->alive(0));
  }
}

TEST(WorkerSpawnerTest, ADeadSpawnerIsAnErrorNamingIt) {
  auto spawner = WorkerSpawner::Start(CountCommands);
  ASSERT_TRUE(spawner.ok()) << spawner.status();
  pid_t pid = (*spawner)->pid();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([pid] { return Gone(pid); }));
  auto pool = (*spawner)->Spawn(2, sizeof(TestBlock));
  ASSERT_FALSE(pool.ok());
  std::string message(pool.status().message());
  EXPECT_NE(message.find("starting worker 0 of 2: the worker spawner (pid " + std::to_string(pid) + ")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("restart"), std::string::npos) << message;
}

// Workers and the spawner die with the process that started them.
TEST(WorkerSpawnerTest, WorkersAndSpawnerDieWithTheRequester) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t middle = fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    auto spawner = WorkerSpawner::Start([](WorkerContext&) {
      pause();
      return 0;
    });
    if (!spawner.ok()) _exit(1);
    auto pool = (*spawner)->Spawn(1, sizeof(TestBlock));
    if (!pool.ok()) _exit(1);
    pid_t pids[2] = {(*spawner)->pid(), (*pool)->pid(0)};
    if (write(pipe_fds[1], pids, sizeof pids) != sizeof pids) _exit(1);
    _exit(0);  // no destructors: both must die on their own
  }
  pid_t pids[2] = {-1, -1};
  ASSERT_EQ(read(pipe_fds[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  waitpid(middle, nullptr, 0);
  EXPECT_TRUE(WaitFor([&] { return Gone(pids[0]); })) << "the spawner outlived its requester";
  EXPECT_TRUE(WaitFor([&] { return Gone(pids[1]); })) << "the worker outlived its requester";
}

}  // namespace
}  // namespace fourtuple
