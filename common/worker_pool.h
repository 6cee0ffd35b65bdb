// Worker processes with shared-memory counters.
//
// A process holds at most RLIMIT_NOFILE descriptors (20000 here, and not
// raisable), so target-server and agent spread connections over worker
// processes. Each worker gets:
//  - a zero-filled shared-memory block the parent reads (counters), and
//  - a SOCK_SEQPACKET control socket to the parent (commands in, one message
//    per command; a closed socket tells either side the other is gone).
// Workers die with their parent (PR_SET_PDEATHSIG=SIGKILL) and the parent
// notices a dead worker through Reap().
//
// Two ways to start workers:
//  - Fork(): runs a function in forked children. Only before any thread
//    exists (before any gRPC object), as fork() copies one thread.
//  - Exec(): re-executes a binary (usually /proc/self/exe with a worker flag);
//    safe from a threaded process. The child finds its block and socket with
//    WorkerContext::FromEnvironment().
//
// Thread-safety: a WorkerPool is used by one thread at a time.
#ifndef FOURTUPLE_COMMON_WORKER_POOL_H_
#define FOURTUPLE_COMMON_WORKER_POOL_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fourtuple {

// What a worker process sees of itself.
struct WorkerContext {
  int index = 0;           // 0..count-1
  int count = 0;           // workers in the pool
  void* shared = nullptr;  // this worker's block, shared_bytes long, zero at start
  size_t shared_bytes = 0;
  int control_fd = -1;  // SOCK_SEQPACKET to the parent, CLOEXEC

  // In an exec'd worker: reads FOURTUPLE_WORKER_* variables, maps the block.
  static absl::StatusOr<WorkerContext> FromEnvironment();
  // True when this process was started by WorkerPool::Exec.
  static bool IsExecWorker();
};

class WorkerPool {
 public:
  // Exit status of a worker that Reap() collected.
  struct Exit {
    int index;
    pid_t pid;
    int wait_status;               // as from waitpid
    std::string Describe() const;  // "worker 2 (pid 123) exited with 1" / "killed by SIGKILL"
  };

  // `body` runs in each child; its return value is the child's exit code.
  static absl::StatusOr<std::unique_ptr<WorkerPool>> Fork(int count, size_t shared_bytes,
                                                          const std::function<int(WorkerContext&)>& body);

  // Starts `count` children running argv (argv[0] is the path).
  static absl::StatusOr<std::unique_ptr<WorkerPool>> Exec(int count, size_t shared_bytes,
                                                          const std::vector<std::string>& argv);

  ~WorkerPool();  // Terminate(absl::Seconds(5)), then unmaps.
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int count() const { return static_cast<int>(workers_.size()); }
  void* shared(int index) const;
  size_t shared_bytes() const { return shared_bytes_; }
  int control_fd(int index) const { return workers_[index].control_fd; }
  pid_t pid(int index) const { return workers_[index].pid; }
  bool alive(int index) const { return workers_[index].pid > 0; }
  int alive_count() const;

  // Sends one message to a worker's control socket (blocking, whole message).
  absl::Status Send(int index, absl::string_view message);
  // Sends to every live worker; the first error is returned, all are tried.
  absl::Status SendAll(absl::string_view message);

  // Collects exited workers without blocking.
  std::vector<Exit> Reap();

  // SIGTERM to every live worker, waits up to `grace`, then SIGKILL; reaps all.
  std::vector<Exit> Terminate(absl::Duration grace);

 private:
  struct Worker {
    pid_t pid = -1;
    int control_fd = -1;
  };
  WorkerPool() = default;
  // Maps the shared blocks and makes one control socket pair per worker. The
  // pool holds the parent ends (as workers_[i].control_fd, pid -1 until
  // forked); *child_fds gets the ends each child keeps.
  static absl::StatusOr<std::unique_ptr<WorkerPool>> Allocate(int count, size_t shared_bytes,
                                                              std::vector<int>* child_fds);

  std::vector<Worker> workers_;
  void* mapping_ = nullptr;
  size_t shared_bytes_ = 0;  // per worker
  size_t stride_ = 0;        // shared_bytes_ rounded up to a page
  int memfd_ = -1;
};

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_WORKER_POOL_H_
