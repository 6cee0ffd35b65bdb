#include "common/grpc_front.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/posix_error.h"

namespace fourtuple {
namespace {

// The listeners accept4 sheds on, each stored as fd + 1 (0: a free slot).
// Read on every accept4, so lock-free; a server has one or two listeners
// (IPv4 and IPv6).
constexpr int kMaxGuarded = 8;
std::atomic<int> g_guarded[kMaxGuarded] = {};

absl::Mutex g_mu(absl::kConstInit);
int g_reserve ABSL_GUARDED_BY(g_mu) = -1;  // a descriptor freed to shed one connection
absl::Time g_last_log ABSL_GUARDED_BY(g_mu) = absl::InfinitePast();
std::atomic<uint64_t> g_shed{0};

int KernelAccept4(int fd, sockaddr* addr, socklen_t* addr_len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, addr, addr_len, flags));
}

bool IsGuarded(int fd) {
  for (const std::atomic<int>& slot : g_guarded) {
    if (slot.load(std::memory_order_relaxed) == fd + 1) return true;
  }
  return false;
}

bool OutOfDescriptors(int error_number) { return error_number == EMFILE || error_number == ENFILE; }

int OpenReserve() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

// Accepts one waiting connection on `listener` with the reserve descriptor
// and closes it. False when none was shed (nothing waiting, or the freed
// descriptor was taken by another thread first).
bool ShedOne(int listener) {
  absl::MutexLock lock(&g_mu);
  if (g_reserve < 0) g_reserve = OpenReserve();
  if (g_reserve < 0) return false;
  close(g_reserve);
  int connection = KernelAccept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection >= 0) close(connection);
  g_reserve = OpenReserve();
  if (connection < 0) return false;
  uint64_t shed = g_shed.fetch_add(1) + 1;
  absl::Time now = absl::Now();
  if (now - g_last_log >= absl::Seconds(10)) {
    g_last_log = now;
    LOG_WARNING(
        "out of file descriptors: closing new connections at once until some are freed (%d shed so far)",
        shed);
  }
  return true;
}

std::optional<int> ListeningPort(int fd) {
  struct stat file = {};
  if (fstat(fd, &file) != 0 || !S_ISSOCK(file.st_mode)) return std::nullopt;
  int listening = 0;
  socklen_t length = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
    return std::nullopt;
  }
  sockaddr_storage address = {};
  length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return std::nullopt;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return std::nullopt;
}

}  // namespace

void ApplyFrontLimits(grpc::ServerBuilder& builder, const FrontLimits& limits) {
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(limits.handshake_timeout)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(limits.max_connection_idle)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  // A front serves a handful of callers: one completion queue and at most
  // two idle pollers instead of one queue per core, each with pollers
  // (threads, stacks and malloc arenas that an idle agent would keep).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
}

absl::Status ShedAcceptsWhenOutOfDescriptors(int port) {
  {
    absl::MutexLock lock(&g_mu);
    if (g_reserve < 0) g_reserve = OpenReserve();
    if (g_reserve < 0) return PosixError("opening /dev/null as the reserve descriptor", errno);
  }
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return PosixError("opendir /proc/self/fd", errno);
  int found = 0;
  while (dirent* entry = readdir(fds)) {
    int fd = 0;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(fds)) continue;
    if (ListeningPort(fd) != port || IsGuarded(fd)) continue;
    for (std::atomic<int>& slot : g_guarded) {
      int free_slot = 0;
      if (slot.compare_exchange_strong(free_slot, fd + 1)) {
        ++found;
        break;
      }
    }
  }
  closedir(fds);
  if (found == 0)
    return absl::NotFoundError(absl::StrCat("no listening socket of this process on port ", port));
  return absl::OkStatus();
}

uint64_t ConnectionsShed() { return g_shed.load(); }

}  // namespace fourtuple

// libgrpc calls accept4 through the PLT, so this definition in the
// executable is the one it reaches (as does every other caller in the
// program). See grpc_front.h.
extern "C" int accept4(int fd, __SOCKADDR_ARG addr, socklen_t* __restrict addr_len, int flags) {
  int accepted = fourtuple::KernelAccept4(fd, addr, addr_len, flags);
  if (accepted >= 0 || !fourtuple::OutOfDescriptors(errno) || !fourtuple::IsGuarded(fd)) return accepted;
  while (true) {
    if (!fourtuple::ShedOne(fd)) {
      errno = EAGAIN;  // gRPC waits for the listener to be readable again
      return -1;
    }
    accepted = fourtuple::KernelAccept4(fd, addr, addr_len, flags);
    if (accepted >= 0 || !fourtuple::OutOfDescriptors(errno)) return accepted;
  }
}
