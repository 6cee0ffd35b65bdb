#include "common/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/posix_error.h"
#include "common/status_macros.h"

extern char** environ;

namespace fourtuple {
namespace {

// "index:count:memfd:control_fd:shared_bytes:stride" for exec'd workers.
constexpr char kWorkerEnv[] = "FOURTUPLE_WORKER";

// Command messages can carry an assignment with thousands of addresses.
constexpr int kControlBufferBytes = 4 << 20;

size_t RoundUpToPage(size_t bytes) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t rounded = (bytes + page - 1) / page * page;
  return rounded == 0 ? page : rounded;
}

// Runs in a freshly forked child: die with the parent, and notice a parent
// that died before PR_SET_PDEATHSIG took effect. Async-signal-safe only.
void BindLifetimeToParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
}

void ResetSignalMask() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace

bool WorkerContext::IsExecWorker() { return std::getenv(kWorkerEnv) != nullptr; }

absl::StatusOr<WorkerContext> WorkerContext::FromEnvironment() {
  const char* value = std::getenv(kWorkerEnv);
  if (value == nullptr) return absl::FailedPreconditionError("not started as a worker");
  std::vector<std::string> parts = absl::StrSplit(value, ':');
  uint64_t fields[6];
  if (parts.size() != 6) return absl::InvalidArgumentError(absl::StrCat(kWorkerEnv, " is malformed"));
  for (int i = 0; i < 6; ++i) {
    if (!absl::SimpleAtoi(parts[i], &fields[i])) {
      return absl::InvalidArgumentError(absl::StrCat(kWorkerEnv, " is malformed"));
    }
  }
  unsetenv(kWorkerEnv);  // so programs this worker might start are not workers
  WorkerContext context;
  context.index = static_cast<int>(fields[0]);
  context.count = static_cast<int>(fields[1]);
  int memfd = static_cast<int>(fields[2]);
  context.control_fd = static_cast<int>(fields[3]);
  context.shared_bytes = fields[4];
  size_t stride = fields[5];
  void* block = mmap(nullptr, stride, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
                     static_cast<off_t>(stride * static_cast<size_t>(context.index)));
  int mmap_errno = errno;
  close(memfd);
  if (block == MAP_FAILED) return PosixError("worker: mapping the shared block", mmap_errno);
  context.shared = block;
  fcntl(context.control_fd, F_SETFD, FD_CLOEXEC);
  return context;
}

std::string WorkerPool::Exit::Describe() const {
  if (WIFEXITED(wait_status)) {
    return absl::StrCat("worker ", index, " (pid ", pid, ") exited with status ", WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    return absl::StrCat("worker ", index, " (pid ", pid, ") killed by SIG",
                        name ? name : std::to_string(WTERMSIG(wait_status)));
  }
  return absl::StrCat("worker ", index, " (pid ", pid, ") ended, wait status ", wait_status);
}

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Allocate(int count, size_t shared_bytes,
                                                                 std::vector<int>* child_fds) {
  if (count < 1) return absl::InvalidArgumentError("a worker pool needs at least one worker");
  // Built first so its destructor releases whatever was made on any error.
  std::unique_ptr<WorkerPool> pool(new WorkerPool());
  pool->shared_bytes_ = shared_bytes;
  pool->stride_ = RoundUpToPage(shared_bytes);
  pool->memfd_ = memfd_create("fourtuple-workers", MFD_CLOEXEC);
  if (pool->memfd_ < 0) return PosixError("memfd_create", errno);
  size_t total = pool->stride_ * static_cast<size_t>(count);
  if (ftruncate(pool->memfd_, static_cast<off_t>(total)) != 0) {
    return PosixError("ftruncate shared memory", errno);
  }
  void* mapping = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, pool->memfd_, 0);
  if (mapping == MAP_FAILED) return PosixError("mmap shared memory", errno);
  pool->mapping_ = mapping;
  pool->workers_.resize(static_cast<size_t>(count));
  child_fds->clear();
  for (int i = 0; i < count; ++i) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      int socket_errno = errno;
      for (int fd : *child_fds) close(fd);
      return PosixError("socketpair for a worker's control socket", socket_errno);
    }
    setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &kControlBufferBytes, sizeof kControlBufferBytes);
    setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &kControlBufferBytes, sizeof kControlBufferBytes);
    pool->workers_[static_cast<size_t>(i)].control_fd = pair[0];
    child_fds->push_back(pair[1]);
  }
  return pool;
}

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Fork(int count, size_t shared_bytes,
                                                             const std::function<int(WorkerContext&)>& body) {
  std::vector<int> child_fds;
  ASSIGN_OR_RETURN(std::unique_ptr<WorkerPool> pool, Allocate(count, shared_bytes, &child_fds));
  pid_t parent = getpid();
  for (int i = 0; i < count; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      int fork_errno = errno;
      for (int j = i; j < count; ++j) close(child_fds[j]);
      return PosixError(absl::StrCat("fork worker ", i), fork_errno);
    }
    if (pid == 0) {
      BindLifetimeToParent(parent);
      // Keep only our own end: a sibling holding the parent's end of our
      // socket would hide the parent's going away. (Child ends of earlier
      // workers were closed in the parent before this fork.)
      for (const Worker& w : pool->workers_) close(w.control_fd);
      for (int j = i + 1; j < count; ++j) close(child_fds[j]);
      WorkerContext context;
      context.index = i;
      context.count = count;
      context.shared = pool->shared(i);
      context.shared_bytes = shared_bytes;
      context.control_fd = child_fds[i];
      _exit(body(context));
    }
    close(child_fds[i]);
    pool->workers_[i].pid = pid;
  }
  return pool;
}

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Exec(int count, size_t shared_bytes,
                                                             const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("worker argv is empty");
  std::vector<int> child_fds;
  ASSIGN_OR_RETURN(std::unique_ptr<WorkerPool> pool, Allocate(count, shared_bytes, &child_fds));

  // Everything the child touches is prepared here: after fork() in a
  // threaded process only async-signal-safe calls are allowed.
  std::vector<char*> child_argv;
  for (const std::string& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);
  std::vector<std::string> base_env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, kWorkerEnv, sizeof kWorkerEnv - 1) != 0) base_env.emplace_back(*e);
  }
  pid_t parent = getpid();
  for (int i = 0; i < count; ++i) {
    std::string worker_env = absl::StrCat(kWorkerEnv, "=", i, ":", count, ":", pool->memfd_, ":",
                                          child_fds[i], ":", shared_bytes, ":", pool->stride_);
    std::vector<char*> child_env;
    for (std::string& e : base_env) child_env.push_back(e.data());
    child_env.push_back(worker_env.data());
    child_env.push_back(nullptr);
    int memfd = pool->memfd_;
    int control = child_fds[i];

    pid_t pid = fork();
    if (pid < 0) {
      int fork_errno = errno;
      for (int j = i; j < count; ++j) close(child_fds[j]);
      return PosixError(absl::StrCat("fork worker ", i), fork_errno);
    }
    if (pid == 0) {
      BindLifetimeToParent(parent);
      ResetSignalMask();
      // These two survive exec; every other descriptor is CLOEXEC.
      fcntl(memfd, F_SETFD, 0);
      fcntl(control, F_SETFD, 0);
      execve(child_argv[0], child_argv.data(), child_env.data());
      _exit(127);
    }
    close(child_fds[i]);
    pool->workers_[i].pid = pid;
  }
  return pool;
}

WorkerPool::~WorkerPool() {
  Terminate(absl::Seconds(5));
  for (Worker& w : workers_) {
    if (w.control_fd >= 0) close(w.control_fd);
  }
  if (mapping_ != nullptr) munmap(mapping_, stride_ * workers_.size());
  if (memfd_ >= 0) close(memfd_);
}

void* WorkerPool::shared(int index) const {
  return static_cast<char*>(mapping_) + stride_ * static_cast<size_t>(index);
}

int WorkerPool::alive_count() const {
  int n = 0;
  for (const Worker& w : workers_) n += w.pid > 0 ? 1 : 0;
  return n;
}

absl::Status WorkerPool::Send(int index, absl::string_view message) {
  Worker& w = workers_[static_cast<size_t>(index)];
  if (w.control_fd < 0) return absl::FailedPreconditionError(absl::StrCat("worker ", index, " is closed"));
  for (;;) {
    ssize_t n = send(w.control_fd, message.data(), message.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(message.size())) return absl::OkStatus();
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(absl::StrCat("sending a command to worker ", index), errno);
    return absl::InternalError(absl::StrCat("worker ", index, ": short command write"));
  }
}

absl::Status WorkerPool::SendAll(absl::string_view message) {
  absl::Status first;
  for (int i = 0; i < count(); ++i) {
    if (!alive(i)) continue;
    absl::Status s = Send(i, message);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

std::vector<WorkerPool::Exit> WorkerPool::Reap() {
  std::vector<Exit> exits;
  for (int i = 0; i < count(); ++i) {
    Worker& w = workers_[static_cast<size_t>(i)];
    if (w.pid <= 0) continue;
    int status = 0;
    pid_t r = waitpid(w.pid, &status, WNOHANG);
    if (r == w.pid || (r < 0 && errno == ECHILD)) {
      exits.push_back({i, w.pid, r == w.pid ? status : 0});
      w.pid = -1;
    }
  }
  return exits;
}

std::vector<WorkerPool::Exit> WorkerPool::Terminate(absl::Duration grace) {
  std::vector<Exit> exits;
  for (Worker& w : workers_) {
    if (w.pid > 0) kill(w.pid, SIGTERM);
  }
  absl::Time deadline = absl::Now() + grace;
  for (;;) {
    std::vector<Exit> reaped = Reap();
    exits.insert(exits.end(), reaped.begin(), reaped.end());
    if (alive_count() == 0) return exits;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  for (Worker& w : workers_) {
    if (w.pid > 0) kill(w.pid, SIGKILL);
  }
  for (int i = 0; i < count(); ++i) {
    Worker& w = workers_[static_cast<size_t>(i)];
    if (w.pid <= 0) continue;
    int status = 0;
    while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    exits.push_back({i, w.pid, status});
    w.pid = -1;
  }
  return exits;
}

}  // namespace fourtuple
