#include "common/worker_spawner.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/posix_error.h"
#include "common/status_macros.h"

namespace fourtuple {
namespace {

// One worker to start. Carries two descriptors (SCM_RIGHTS): the shared
// memory (memfd) and the worker's end of its control socket.
struct SpawnRequest {
  int32_t index;
  int32_t count;
  uint64_t shared_bytes;
  uint64_t stride;  // the worker's block is at stride * index in the memfd
};

// The answer: the worker's pid, or the errno of the step that failed.
struct SpawnReply {
  int32_t pid;
  int32_t error;
  int32_t step;  // which step failed (kStep*), when error != 0
};

enum : int32_t { kStepNone = 0, kStepMessage = 1, kStepMap = 2, kStepClone = 3 };

// A spawner that does not answer within this is stuck (stopped, swapping).
constexpr absl::Duration kReplyTimeout = absl::Seconds(10);

const char* DescribeStep(int32_t step) {
  switch (step) {
    case kStepMessage: return "the request was malformed";
    case kStepMap: return "mapping the shared block";
    case kStepClone: return "clone(CLONE_PARENT)";
    default: return "spawning";
  }
}

// Reads one request and its two descriptors. 0: the requester closed the
// socket (or is gone); -1: a malformed message, already answered.
int ReceiveRequest(int socket_fd, SpawnRequest* request, int* memfd, int* control_fd) {
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
  for (;;) {
    iovec data = {request, sizeof *request};
    msghdr message = {};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    int received = 0;
    int fds[2] = {-1, -1};
    if (header != nullptr && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      received = static_cast<int>((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      std::memcpy(fds, CMSG_DATA(header), sizeof(int) * static_cast<size_t>(received < 2 ? received : 2));
    }
    if (n != static_cast<ssize_t>(sizeof *request) || received != 2 ||
        (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
      for (int i = 0; i < received && i < 2; ++i) close(fds[i]);
      SpawnReply reply = {0, EPROTO, kStepMessage};
      send(socket_fd, &reply, sizeof reply, MSG_NOSIGNAL);
      return -1;
    }
    *memfd = fds[0];
    *control_fd = fds[1];
    return 1;
  }
}

// Starts one worker as a sibling of this spawner (a child of the requester).
SpawnReply SpawnOne(const SpawnRequest& request, int memfd, int control_fd, int socket_fd,
                    pid_t requester, const std::function<int(WorkerContext&)>& body) {
  void* block = mmap(nullptr, request.stride, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
                     static_cast<off_t>(request.stride * static_cast<uint64_t>(request.index)));
  if (block == MAP_FAILED) return {0, errno, kStepMap};
  // fork() with CLONE_PARENT: glibc has no wrapper for that. This process has
  // one thread, so no lock can be held across the clone.
  long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) {
    BindWorkerLifetimeToParent(requester);
    close(socket_fd);
    close(memfd);
    WorkerContext context;
    context.index = request.index;
    context.count = request.count;
    context.shared = block;
    context.shared_bytes = request.shared_bytes;
    context.control_fd = control_fd;
    _exit(body(context));
  }
  int clone_errno = errno;
  munmap(block, request.stride);
  if (pid < 0) return {0, clone_errno, kStepClone};
  return {static_cast<int32_t>(pid), 0, kStepNone};
}

[[noreturn]] void ServeSpawnRequests(int socket_fd, pid_t requester,
                                     const std::function<int(WorkerContext&)>& body) {
  for (;;) {
    SpawnRequest request;
    int memfd = -1;
    int control_fd = -1;
    int received = ReceiveRequest(socket_fd, &request, &memfd, &control_fd);
    if (received == 0) _exit(0);
    if (received < 0) continue;
    SpawnReply reply = SpawnOne(request, memfd, control_fd, socket_fd, requester, body);
    close(memfd);
    close(control_fd);
    send(socket_fd, &reply, sizeof reply, MSG_NOSIGNAL);
  }
}

// Threads in this process, from /proc/self/status; 0 when unreadable.
int CountThreads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int threads = 0;
    if (absl::StartsWith(line, "Threads:") && absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &threads)) {
      return threads;
    }
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerSpawner>> WorkerSpawner::Start(
    std::function<int(WorkerContext&)> body) {
  // A fork now would copy one thread and every lock the others hold.
  if (int threads = CountThreads(); threads > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the worker spawner must start before any thread; this process has ", threads));
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return PosixError("socketpair for the worker spawner", errno);
  }
  pid_t requester = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int fork_errno = errno;
    close(pair[0]);
    close(pair[1]);
    return PosixError("fork the worker spawner", fork_errno);
  }
  if (pid == 0) {
    BindWorkerLifetimeToParent(requester);
    close(pair[0]);
    ServeSpawnRequests(pair[1], requester, body);
  }
  close(pair[1]);
  return std::unique_ptr<WorkerSpawner>(new WorkerSpawner(pid, pair[0]));
}

WorkerSpawner::~WorkerSpawner() {
  close(socket_fd_);  // the spawner sees end of file and exits
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      return;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

namespace {

// Sends one request and waits for its reply; returns the worker's pid.
absl::StatusOr<pid_t> RequestWorker(int socket_fd, pid_t spawner, const SpawnRequest& request,
                                    int memfd, int control_fd) {
  const std::string spawner_name = absl::StrCat("the worker spawner (pid ", spawner, ")");
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  iovec data = {const_cast<SpawnRequest*>(&request), sizeof request};
  msghdr message = {};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int fds[2] = {memfd, control_fd};
  std::memcpy(CMSG_DATA(header), fds, sizeof fds);
  ssize_t sent;
  do {
    sent = sendmsg(socket_fd, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    return PosixError(absl::StrCat(spawner_name, " is gone (restart the agent to get a new one)"), errno);
  }

  pollfd readable = {socket_fd, POLLIN, 0};
  int ready;
  do {
    ready = poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(kReplyTimeout)));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat(spawner_name, " did not answer within ", absl::FormatDuration(kReplyTimeout),
                     " (stopped?)"));
  }
  SpawnReply reply;
  ssize_t got;
  do {
    got = recv(socket_fd, &reply, sizeof reply, 0);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    return absl::UnavailableError(
        absl::StrCat(spawner_name, " has exited (restart the agent to get a new one)"));
  }
  if (got != static_cast<ssize_t>(sizeof reply)) {
    return absl::InternalError(absl::StrCat(spawner_name, " sent a malformed reply (", got, " bytes)"));
  }
  if (reply.error != 0) {
    return PosixError(absl::StrCat(spawner_name, ": ", DescribeStep(reply.step)), reply.error);
  }
  return static_cast<pid_t>(reply.pid);
}

}  // namespace

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerSpawner::Spawn(int count, size_t shared_bytes) {
  absl::MutexLock lock(&mu_);
  std::vector<int> child_fds;
  ASSIGN_OR_RETURN(std::unique_ptr<WorkerPool> pool, WorkerPool::Allocate(count, shared_bytes, &child_fds));
  for (int i = 0; i < count; ++i) {
    SpawnRequest request = {i, count, shared_bytes, pool->stride_};
    absl::StatusOr<pid_t> pid = RequestWorker(socket_fd_, pid_, request, pool->memfd_, child_fds[i]);
    close(child_fds[i]);
    if (!pid.ok()) {
      for (int j = i + 1; j < count; ++j) close(child_fds[j]);
      // The pool's destructor ends the workers already started.
      return absl::Status(pid.status().code(),
                          absl::StrCat("starting worker ", i, " of ", count, ": ", pid.status().message()));
    }
    pool->workers_[static_cast<size_t>(i)].pid = *pid;
  }
  return pool;
}

}  // namespace fourtuple
