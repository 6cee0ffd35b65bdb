// Forked workers for a program that has threads.
//
// fork() in a threaded process copies one thread and leaves every lock the
// others held locked, so a gRPC server cannot fork its workers; exec'ing a
// fresh copy instead costs each worker its own relocated copy of every shared
// library (about 11 MiB of RSS each, times ~54 workers at a million
// connections). A WorkerSpawner is a small process forked at startup, before
// any thread exists; later it forks workers on request, so each worker shares
// the program's pages and pays only for what it touches.
//
// The spawner creates each worker with CLONE_PARENT, so workers are children
// of the requesting process, exactly as with WorkerPool::Fork: Reap(),
// Terminate() and PR_SET_PDEATHSIG (workers die with the requester) work
// unchanged. The spawner itself dies with the requester too.
//
// Thread-safety: Spawn() may be called from any thread; calls are serialized.
#ifndef FOURTUPLE_COMMON_WORKER_SPAWNER_H_
#define FOURTUPLE_COMMON_WORKER_SPAWNER_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/worker_pool.h"

namespace fourtuple {

class WorkerSpawner {
 public:
  // Forks the spawner. Call before any thread exists. `body` runs in every
  // worker it later starts; its return value is the worker's exit code.
  static absl::StatusOr<std::unique_ptr<WorkerSpawner>> Start(std::function<int(WorkerContext&)> body);

  ~WorkerSpawner();  // the spawner exits when its socket closes; reaped here
  WorkerSpawner(const WorkerSpawner&) = delete;
  WorkerSpawner& operator=(const WorkerSpawner&) = delete;

  // `count` workers running `body`, as children of this process. An error
  // names the worker and the cause; a dead or stuck spawner is one.
  absl::StatusOr<std::unique_ptr<WorkerPool>> Spawn(int count, size_t shared_bytes);

  pid_t pid() const { return pid_; }

 private:
  WorkerSpawner(pid_t pid, int socket_fd) : pid_(pid), socket_fd_(socket_fd) {}

  const pid_t pid_;
  const int socket_fd_;  // SOCK_SEQPACKET: requests out, replies in
  absl::Mutex mu_;       // one request and its reply at a time
};

}  // namespace fourtuple

#endif  // FOURTUPLE_COMMON_WORKER_SPAWNER_H_
