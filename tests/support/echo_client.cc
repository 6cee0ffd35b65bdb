#include "tests/support/echo_client.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/failure_reason.h"
#include "common/host_facts.h"
#include "common/posix_error.h"

namespace fourtuple::testing {
namespace {

constexpr int kMaxSources = 256;
constexpr char kConnect = 'C';
constexpr char kEcho = 'E';
constexpr char kClose = 'X';
constexpr char kDone = 'd';

// One per client process, zero-filled; written by that process only.
struct ClientShared {
  std::atomic<uint64_t> established;
  std::atomic<uint64_t> connect_failed;
  std::atomic<uint64_t> echo_verified;
  std::atomic<uint64_t> echo_mismatched;
  std::atomic<uint64_t> echo_timed_out;
  std::atomic<uint64_t> closed_by_peer;
  std::atomic<uint64_t> closed;
  std::atomic<uint64_t> errors[kReasonSlots];
  std::atomic<uint64_t> by_source[kMaxSources];
};

// The child's clock: clock_gettime directly, no library state that a thread
// of the forking test might have held at fork().
int64_t MonotonicMillis() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1000 + now.tv_nsec / 1'000'000;
}

void Bump(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

enum State : uint8_t { kIdle, kConnecting, kEstablished, kAwaitingEcho, kFailed, kClosed };

// The payload of connection `id` in echo round `round`: id, round, then
// bytes derived from both, so every connection's bytes differ.
void FillPayload(uint64_t id, uint32_t round, uint32_t size, unsigned char* out) {
  std::memcpy(out, &id, 8);
  std::memcpy(out + 8, &round, 4);
  std::memcpy(out + 12, "ECHO", 4);
  for (uint32_t i = 16; i < size; ++i) {
    out[i] = static_cast<unsigned char>((id * 131 + round * 7 + i) & 0xff);
  }
}

// The body of one client process: connections [first, first + count).
class ClientWorker {
 public:
  ClientWorker(const EchoClientOptions& options, ClientShared* shared, uint64_t first, uint64_t count)
      : options_(options),
        shared_(shared),
        first_(first),
        count_(count),
        fds_(count, -1),
        states_(count, kIdle),
        received_(count, 0),
        expected_(options.payload_bytes),
        got_(options.payload_bytes + 1) {}

  int Serve(int control_fd) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return 1;
    for (;;) {
      char command;
      ssize_t n = recv(control_fd, &command, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;  // the parent is gone
      if (command == kConnect) ConnectAll();
      if (command == kEcho) EchoAll();
      if (command == kClose) CloseAll();
      char done = kDone;
      if (send(control_fd, &done, 1, MSG_NOSIGNAL) != 1) return 1;
    }
  }

 private:
  int64_t Deadline() const { return MonotonicMillis() + absl::ToInt64Milliseconds(options_.phase_timeout); }

  void Fail(uint64_t i, int reason, std::atomic<uint64_t>& counter) {
    Bump(shared_->errors[ReasonCode(reason)]);
    Bump(counter);
    if (fds_[i] >= 0) close(fds_[i]);
    fds_[i] = -1;
    states_[i] = kFailed;
  }

  // Starts connection i; false when it failed at once.
  bool StartConnect(uint64_t i) {
    const uint64_t id = first_ + i;
    const size_t sources = options_.sources.size();
    const IpAddress& source = options_.sources[id % sources];
    const Endpoint& target = options_.targets[(id / sources) % options_.targets.size()];
    int fd = socket(source.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      Fail(i, errno, shared_->connect_failed);
      return false;
    }
    fds_[i] = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    Endpoint local{source, 0};
    sockaddr_storage address{};
    socklen_t length = local.ToSockaddr(&address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      Fail(i, errno, shared_->connect_failed);
      return false;
    }
    length = target.ToSockaddr(&address);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
      Fail(i, errno, shared_->connect_failed);
      return false;
    }
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLET;
    event.data.u64 = i;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      Fail(i, errno, shared_->connect_failed);
      return false;
    }
    states_[i] = kConnecting;
    return true;
  }

  void ConnectAll() {
    const int64_t deadline = Deadline();
    uint64_t next = 0;
    uint64_t in_flight = 0;
    while (next < count_ || in_flight > 0) {
      while (next < count_ && in_flight < options_.max_in_flight) {
        if (StartConnect(next++)) ++in_flight;
      }
      int n = epoll_wait(epoll_fd_, events_, kMaxEvents, 100);
      for (int e = 0; e < n; ++e) {
        uint64_t i = events_[e].data.u64;
        if (states_[i] != kConnecting) continue;
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(fds_[i], SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0 || (events_[e].events & (EPOLLERR | EPOLLHUP))) {
          Fail(i, error != 0 ? error : ECONNRESET, shared_->connect_failed);
          --in_flight;
        } else if (events_[e].events & EPOLLOUT) {
          states_[i] = kEstablished;
          Bump(shared_->established);
          Bump(shared_->by_source[(first_ + i) % options_.sources.size()]);
          --in_flight;
        }
      }
      if (MonotonicMillis() > deadline) {
        for (uint64_t i = 0; i < next; ++i) {
          if (states_[i] == kConnecting) Fail(i, kReasonConnectTimeout, shared_->connect_failed);
        }
        for (uint64_t i = next; i < count_; ++i) {
          Fail(i, kReasonConnectTimeout, shared_->connect_failed);
        }
        return;
      }
    }
  }

  // Reads what connection i has; true once its echo is settled.
  bool ReadEcho(uint64_t i) {
    for (;;) {
      ssize_t n = read(fds_[i], got_.data(), got_.size());
      if (n > 0) {
        const uint32_t at = received_[i];
        FillPayload(first_ + i, round_, options_.payload_bytes, expected_.data());
        if (at + static_cast<size_t>(n) > options_.payload_bytes ||
            std::memcmp(got_.data(), expected_.data() + at, static_cast<size_t>(n)) != 0) {
          Fail(i, kReasonEchoMismatch, shared_->echo_mismatched);
          return true;
        }
        received_[i] = static_cast<uint16_t>(at + n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      Fail(i, n == 0 ? kReasonPeerClosed : errno, shared_->closed_by_peer);
      return true;
    }
    if (received_[i] == options_.payload_bytes) {
      states_[i] = kEstablished;
      Bump(shared_->echo_verified);
      return true;
    }
    return false;
  }

  void EchoAll() {
    ++round_;
    const int64_t deadline = Deadline();
    uint64_t next = 0;
    uint64_t outstanding = 0;
    while (next < count_ || outstanding > 0) {
      while (next < count_ && outstanding < options_.max_in_flight) {
        uint64_t i = next++;
        if (states_[i] != kEstablished) continue;
        FillPayload(first_ + i, round_, options_.payload_bytes, expected_.data());
        received_[i] = 0;
        ssize_t n = send(fds_[i], expected_.data(), options_.payload_bytes, MSG_NOSIGNAL);
        if (n != static_cast<ssize_t>(options_.payload_bytes)) {
          Fail(i, n < 0 ? errno : kReasonOther, shared_->closed_by_peer);
          continue;
        }
        states_[i] = kAwaitingEcho;
        ++outstanding;
        // The echo may be back already (loopback); saves waiting for an event.
        if (ReadEcho(i)) --outstanding;
      }
      if (outstanding == 0) continue;
      int n = epoll_wait(epoll_fd_, events_, kMaxEvents, 100);
      for (int e = 0; e < n; ++e) {
        uint64_t i = events_[e].data.u64;
        if (states_[i] != kAwaitingEcho) continue;
        if (ReadEcho(i)) --outstanding;
      }
      if (MonotonicMillis() > deadline) {
        for (uint64_t i = 0; i < count_; ++i) {
          if (states_[i] == kAwaitingEcho) Fail(i, kReasonEchoTimeout, shared_->echo_timed_out);
        }
        return;
      }
    }
  }

  void CloseAll() {
    linger abortive{1, 0};
    for (uint64_t i = 0; i < count_; ++i) {
      if (fds_[i] < 0) continue;
      if (options_.abortive_close) {
        setsockopt(fds_[i], SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
      }
      close(fds_[i]);
      fds_[i] = -1;
      states_[i] = kClosed;
      Bump(shared_->closed);
    }
  }

  static constexpr int kMaxEvents = 1024;
  const EchoClientOptions& options_;
  ClientShared* const shared_;
  const uint64_t first_;
  const uint64_t count_;
  int epoll_fd_ = -1;
  uint32_t round_ = 0;
  std::vector<int> fds_;
  std::vector<uint8_t> states_;
  std::vector<uint16_t> received_;
  std::vector<unsigned char> expected_;
  std::vector<unsigned char> got_;
  epoll_event events_[kMaxEvents];
};

}  // namespace

std::string EchoClientResult::ToString() const {
  std::string text = absl::StrCat("established=", established, " connect_failed=", connect_failed,
                                  " echo_verified=", echo_verified, " echo_mismatched=", echo_mismatched,
                                  " echo_timed_out=", echo_timed_out, " closed_by_peer=", closed_by_peer,
                                  " closed=", closed, " errors={");
  for (const auto& [name, count] : errors) absl::StrAppend(&text, name, ":", count, " ");
  absl::StrAppend(&text, "}");
  return text;
}

absl::StatusOr<std::unique_ptr<EchoClient>> EchoClient::Start(const EchoClientOptions& options) {
  if (options.targets.empty()) return absl::InvalidArgumentError("EchoClient: no targets");
  if (options.sources.empty() || options.sources.size() > kMaxSources) {
    return absl::InvalidArgumentError("EchoClient: 1 to 256 sources");
  }
  if (options.processes < 1 || options.max_in_flight < 1) {
    return absl::InvalidArgumentError("EchoClient: processes and max_in_flight must be positive");
  }
  if (options.payload_bytes < 16 || options.payload_bytes > 4096) {
    return absl::InvalidArgumentError("EchoClient: payload_bytes must be 16..4096");
  }
  absl::StatusOr<uint64_t> fd_limit = RaiseFdLimit();
  if (!fd_limit.ok()) return fd_limit.status();
  const uint64_t per_process = (options.connections + static_cast<uint64_t>(options.processes) - 1) /
                               static_cast<uint64_t>(options.processes);
  if (per_process > FdBudgetPerProcess(*fd_limit)) {
    return absl::InvalidArgumentError(absl::StrCat("EchoClient: ", per_process,
                                                   " connections per process exceed the fd budget ",
                                                   FdBudgetPerProcess(*fd_limit), ": use more processes"));
  }
  std::unique_ptr<EchoClient> client(new EchoClient(options));
  const EchoClientOptions& kept = client->options_;
  absl::StatusOr<std::unique_ptr<WorkerPool>> pool =
      WorkerPool::Fork(options.processes, sizeof(ClientShared), [&kept](WorkerContext& context) {
        const uint64_t n = kept.connections;
        const uint64_t workers = static_cast<uint64_t>(context.count);
        const uint64_t index = static_cast<uint64_t>(context.index);
        const uint64_t first = n * index / workers;
        const uint64_t last = n * (index + 1) / workers;
        ClientWorker worker(kept, static_cast<ClientShared*>(context.shared), first, last - first);
        return worker.Serve(context.control_fd);
      });
  if (!pool.ok()) return pool.status();
  client->pool_ = *std::move(pool);
  return client;
}

EchoClient::~EchoClient() = default;

absl::StatusOr<EchoClientResult> EchoClient::Connect() { return Command(kConnect); }
absl::StatusOr<EchoClientResult> EchoClient::Echo() { return Command(kEcho); }
absl::StatusOr<EchoClientResult> EchoClient::CloseAll() { return Command(kClose); }

absl::StatusOr<EchoClientResult> EchoClient::Command(char command) {
  if (absl::Status status = pool_->SendAll(absl::string_view(&command, 1)); !status.ok()) {
    return status;
  }
  // Each worker bounds its phase by phase_timeout; allow some slack on top.
  const absl::Time deadline = absl::Now() + options_.phase_timeout + absl::Seconds(30);
  for (int i = 0; i < pool_->count(); ++i) {
    pollfd poll_fd{pool_->control_fd(i), POLLIN, 0};
    int ready;
    do {
      int wait_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      ready = poll(&poll_fd, 1, wait_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
      return absl::DeadlineExceededError(absl::StrCat("EchoClient: worker ", i, " did not answer"));
    }
    char reply = 0;
    if (recv(pool_->control_fd(i), &reply, 1, 0) != 1 || reply != kDone) {
      return absl::InternalError(absl::StrCat("EchoClient: worker ", i, " died"));
    }
  }
  return Read();
}

EchoClientResult EchoClient::Read() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  EchoClientResult result;
  std::vector<uint64_t> errors(kReasonSlots, 0);
  std::vector<uint64_t> by_source(options_.sources.size(), 0);
  for (int w = 0; w < pool_->count(); ++w) {
    const auto* shared = static_cast<const ClientShared*>(pool_->shared(w));
    result.established += shared->established.load(kRelaxed);
    result.connect_failed += shared->connect_failed.load(kRelaxed);
    result.echo_verified += shared->echo_verified.load(kRelaxed);
    result.echo_mismatched += shared->echo_mismatched.load(kRelaxed);
    result.echo_timed_out += shared->echo_timed_out.load(kRelaxed);
    result.closed_by_peer += shared->closed_by_peer.load(kRelaxed);
    result.closed += shared->closed.load(kRelaxed);
    for (int r = 0; r < kReasonSlots; ++r) errors[r] += shared->errors[r].load(kRelaxed);
    for (size_t s = 0; s < by_source.size(); ++s) by_source[s] += shared->by_source[s].load(kRelaxed);
  }
  for (int r = 0; r < kReasonSlots; ++r) {
    if (errors[r] != 0) result.errors[std::string(ReasonName(r))] = errors[r];
  }
  for (size_t s = 0; s < by_source.size(); ++s) {
    result.established_by_source[options_.sources[s].ToString()] += by_source[s];
  }
  return result;
}

}  // namespace fourtuple::testing
