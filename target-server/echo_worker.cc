#include "target-server/echo_worker.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/posix_error.h"

namespace fourtuple::target_server {
namespace {

int64_t MonotonicNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// accept4 errors that concern only the connection being accepted (it is
// dequeued): go on accepting. See accept(2), "Error handling".
bool IsPerConnectionAcceptError(int error) {
  switch (error) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

EchoWorker::EchoWorker(const std::vector<int>& listener_fds, int kick_fd, WorkerCounters* counters,
                       const EchoWorkerOptions& options)
    : listener_fds_(listener_fds),
      kick_fd_(kick_fd),
      counters_(counters),
      options_(options),
      scratch_(new char[options.buffer_bytes]),
      pool_(options.buffer_bytes, options.max_idle_buffers) {}

absl::StatusOr<std::unique_ptr<EchoWorker>> EchoWorker::Create(const std::vector<int>& listener_fds,
                                                               int kick_fd, WorkerCounters* counters,
                                                               const EchoWorkerOptions& options) {
  if (options.max_connections == 0) {
    return absl::InvalidArgumentError("EchoWorker: max_connections must be positive");
  }
  if (options.buffer_bytes == 0 || options.buffer_bytes > (1u << 30)) {
    return absl::InvalidArgumentError("EchoWorker: buffer_bytes out of range");
  }
  EchoWorkerOptions adjusted = options;
  // A pending write may hold a whole sealed TLS record.
  if (options.tls != nullptr) adjusted.buffer_bytes = std::max(options.buffer_bytes, kTlsMaxRecordBytes);
  std::unique_ptr<EchoWorker> worker(new EchoWorker(listener_fds, kick_fd, counters, adjusted));
  worker->epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (worker->epoll_fd_ < 0) return PosixError("epoll_create1", errno);

  // The bitmap covers every fd this process may open: RLIMIT_NOFILE bits
  // (2.5 KB at 20000), whatever the number of connections.
  rlimit limit{};
  uint64_t max_fds = 1024;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    max_fds = std::max<uint64_t>(max_fds, limit.rlim_cur);
  }
  worker->open_fds_.assign((max_fds + 63) / 64, 0);
  if (options.tls != nullptr) {
    worker->tls_ = options.tls;
    worker->tls_by_fd_.assign(max_fds, nullptr);
    worker->tls_records_.reset(new TlsRecordState[max_fds]);
    worker->tls_record_slots_ = max_fds;
    worker->tls_->SetRecordStates(worker->tls_records_.get());
    worker->tls_cipher_ = std::make_unique<TlsRecordCipher>();
    worker->tls_out_.reset(new char[kTlsMaxRecordBytes]);
  }

  if (kick_fd >= 0) {
    // Not exclusive: a kick must reach every worker that may have room.
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    event.data.u64 = kTagKick;
    if (epoll_ctl(worker->epoll_fd_, EPOLL_CTL_ADD, kick_fd, &event) != 0) {
      return PosixError("epoll_ctl(ADD kick eventfd)", errno);
    }
  }
  worker->ResumeAccepting();
  if (!listener_fds.empty() && !worker->accepting_) {
    return absl::InternalError("EchoWorker: could not add the listeners to epoll");
  }
  return worker;
}

EchoWorker::~EchoWorker() {
  CloseAll();
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

absl::Status EchoWorker::AddStopFd(int fd) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kTagStop | static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return PosixError("epoll_ctl(ADD stop fd)", errno);
  }
  return absl::OkStatus();
}

absl::Status EchoWorker::AddConnection(int fd) {
  epoll_event event{};
  event.events = kConnectionEvents;
  event.data.u64 = static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return PosixError("epoll_ctl(ADD connection)", errno);
  }
  TrackOpen(fd);
  if (tls_ && !StartTls(fd)) return absl::ResourceExhaustedError("no memory for a TLS session");
  return absl::OkStatus();
}

absl::Status EchoWorker::Run() {
  while (!stop_requested_) {
    absl::Duration wait = absl::InfiniteDuration();
    // With TLS, a second without events after handshakes gives their
    // transient memory back (echo_worker_tls.cc).
    if (tls_handshakes_untrimmed_ > 0) wait = absl::Seconds(1);
    if (backoff_until_ns_ != 0) {
      wait = absl::Nanoseconds(std::max<int64_t>(0, backoff_until_ns_ - MonotonicNanos()));
    }
    absl::Status status = RunOnce(wait);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status EchoWorker::RunOnce(absl::Duration timeout) {
  int timeout_ms = -1;
  if (timeout != absl::InfiniteDuration()) {
    // Round up so a back-off that ends in 0.5 ms does not spin at 0 ms.
    timeout_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(timeout + absl::Microseconds(999)), 1 << 30));
  }
  int count = epoll_wait(epoll_fd_, events_, kMaxEvents, timeout_ms);
  if (count < 0) {
    if (errno == EINTR) return absl::OkStatus();
    return PosixError("epoll_wait", errno);
  }
  for (int i = 0; i < count; ++i) HandleEvent(events_[i]);
  if (count == 0 && tls_handshakes_untrimmed_ > 0) TrimAfterHandshakes();
  if (backoff_until_ns_ != 0 && MonotonicNanos() >= backoff_until_ns_) {
    backoff_until_ns_ = 0;
    MaybeResumeAccepting();
  }
  return absl::OkStatus();
}

void EchoWorker::HandleEvent(const epoll_event& event) {
  const uint64_t data = event.data.u64;
  const uint64_t tag = data & ~uint64_t{0xffffffff};
  if (tag == 0) {
    const int fd = static_cast<int>(data);
    if (pending(fd) != nullptr) {
      // Registered for EPOLLOUT only while a write is pending.
      if (!FlushPending(fd)) return;
      // Reads were paused: the read edge may be long gone, so drain.
      Echo(fd, /*read_until_eagain=*/true);
      return;
    }
    // Without a hang-up, a short read proves the queue empty and any later
    // data raises a new edge, saving the read that would return EAGAIN. With
    // EPOLLRDHUP set, read to the end so the FIN is not left unread.
    Echo(fd, (event.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
    return;
  }
  if (tag == kTagListener) {
    if (accepting_) AcceptFrom(listener_fds_[static_cast<uint32_t>(data)]);
    return;
  }
  if (tag == kTagKick) {
    // Another worker stopped accepting, maybe leaving connections queued.
    for (int listener_fd : listener_fds_) {
      if (!accepting_) break;
      AcceptFrom(listener_fd);
    }
    return;
  }
  if (tag == kTagStop) stop_requested_ = true;
}

void EchoWorker::AcceptFrom(int listener_fd) {
  while (accepting_) {
    if (open_ >= options_.max_connections) {
      // At the budget: let the others take this listener's queue. Counted,
      // so a run that fails here blames the target's fds, not the network.
      WorkerCounters::Add(counters_->at_capacity, 1);
      PauseAccepting(/*kick_others=*/true);
      return;
    }
    int fd = accept4(listener_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        if (errno == EAGAIN) return;
        continue;
      }
      if (!OnAcceptError(errno)) return;
      continue;
    }
    epoll_event event{};
    event.events = kConnectionEvents;
    event.data.u64 = static_cast<uint32_t>(fd);
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      // ENOMEM or ENOSPC (max_user_watches): the kernel cannot watch more.
      int error = errno;
      close(fd);
      if (!OnAcceptError(error)) return;
      continue;
    }
    TrackOpen(fd);
    WorkerCounters::Add(counters_->accepted, 1);
    if (tls_) {
      StartTls(fd);
    } else if (options_.websocket) {
      // The client writes its upgrade as soon as its connect completes: by
      // the time a loaded server accepts, it is usually there, and reading it
      // now spares a wake-up per connection.
      Echo(fd, /*read_until_eagain=*/false);
    }
  }
}

bool EchoWorker::OnAcceptError(int error) {
  const int code = ReasonCode(error);
  WorkerCounters::Add(counters_->accept_errors[code], 1);
  if (!logged_reasons_.test(code)) {
    // The first of each kind is logged; the rest are only counted.
    logged_reasons_.set(code);
    LOG_WARNING("accepting: %s (%s)", ReasonName(code), std::strerror(error));
  }
  if (IsPerConnectionAcceptError(error)) return true;
  // A resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...): the connection
  // stays queued, so back off instead of spinning and let the others try.
  backoff_until_ns_ = MonotonicNanos() + absl::ToInt64Nanoseconds(options_.accept_backoff);
  PauseAccepting(/*kick_others=*/true);
  return false;
}

void EchoWorker::Echo(int fd, bool read_until_eagain) {
  if (tls_) return EchoTls(fd);
  if (options_.websocket) return EchoWs(fd, read_until_eagain);
  char* const scratch = scratch_.get();
  const size_t capacity = options_.buffer_bytes;
  for (;;) {
    ssize_t got = read(fd, scratch, capacity);
    if (got > 0) {
      WorkerCounters::Add(counters_->bytes_echoed, static_cast<uint64_t>(got));
      if (!WriteOrPend(fd, scratch, static_cast<size_t>(got))) return;
      if (static_cast<size_t>(got) < capacity && !read_until_eagain) return;
      continue;
    }
    if (got < 0 && errno == EAGAIN) return;
    if (got < 0 && errno == EINTR) continue;
    CloseConnection(fd);  // EOF, or ECONNRESET and the like
    return;
  }
}

bool EchoWorker::WriteOrPend(int fd, const char* data, size_t size) {
  ssize_t sent = WriteBytes(fd, data, size);
  if (sent == static_cast<ssize_t>(size)) return true;
  if (sent < 0) {
    if (errno != EAGAIN) {
      CloseConnection(fd);  // EPIPE, ECONNRESET: the peer is gone
      return false;
    }
    sent = 0;
  }
  StartPending(fd, data + sent, size - static_cast<size_t>(sent));
  return false;
}

void EchoWorker::StartPending(int fd, const char* data, size_t length) {
  PendingWrite* buffer = pool_.Take();
  std::memcpy(buffer->data.get(), data, length);
  buffer->end = static_cast<uint32_t>(length);
  if (static_cast<size_t>(fd) >= pending_.size()) {
    pending_.resize(std::max<size_t>(static_cast<size_t>(fd) + 1, pending_.size() * 2), nullptr);
  }
  pending_[fd] = buffer;
  // Stop reading (the peer must drain its side first) and wait for room.
  epoll_event event{};
  event.events = EPOLLOUT | EPOLLET;
  event.data.u64 = static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) CloseConnection(fd);
}

bool EchoWorker::FlushPending(int fd) {
  PendingWrite* buffer = pending_[fd];
  while (buffer->begin < buffer->end) {
    ssize_t sent = WriteBytes(fd, buffer->data.get() + buffer->begin, buffer->end - buffer->begin);
    if (sent < 0) {
      if (errno == EAGAIN) return false;  // wait for the next EPOLLOUT edge
      if (errno == EINTR) continue;
      CloseConnection(fd);
      return false;
    }
    buffer->begin += static_cast<uint32_t>(sent);
  }
  pending_[fd] = nullptr;
  pool_.Give(buffer);
  // Reading again. MOD reports data that arrived meanwhile as a new event,
  // and the caller reads at once anyway.
  epoll_event event{};
  event.events = kConnectionEvents;
  event.data.u64 = static_cast<uint32_t>(fd);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) != 0) {
    CloseConnection(fd);
    return false;
  }
  return true;
}

void EchoWorker::TrackOpen(int fd) {
  const size_t word = static_cast<size_t>(fd) / 64;
  if (word >= open_fds_.size()) open_fds_.resize(word + 1, 0);
  open_fds_[word] |= uint64_t{1} << (fd % 64);
  ++open_;
  WorkerCounters::Add(counters_->open, 1);
}

void EchoWorker::CloseConnection(int fd) {
  if (PendingWrite* buffer = pending(fd)) {
    pending_[fd] = nullptr;
    pool_.Give(buffer);
  }
  FreeTls(fd);
  ForgetWs(fd);
  close(fd);  // also removes it from the epoll set
  open_fds_[static_cast<size_t>(fd) / 64] &= ~(uint64_t{1} << (fd % 64));
  --open_;
  WorkerCounters::Sub(counters_->open, 1);
  WorkerCounters::Add(counters_->closed, 1);
  MaybeResumeAccepting();
}

void EchoWorker::PauseAccepting(bool kick_others) {
  if (!accepting_) return;
  accepting_ = false;
  for (int listener_fd : listener_fds_) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener_fd, nullptr);
  if (kick_others && kick_fd_ >= 0) {
    // Nobody reads the eventfd: with edge-triggered watchers every write is
    // an edge, and the counter cannot reach its 2^64 ceiling.
    uint64_t one = 1;
    ssize_t ignored = write(kick_fd_, &one, sizeof(one));
    (void)ignored;
  }
}

void EchoWorker::ResumeAccepting() {
  if (accepting_ || stop_requested_) return;
  for (size_t i = 0; i < listener_fds_.size(); ++i) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE;
    event.data.u64 = kTagListener | i;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listener_fds_[i], &event) != 0) {
      int error = errno;
      for (size_t j = 0; j < i; ++j) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener_fds_[j], nullptr);
      LOG_ERROR("epoll_ctl(ADD listener): %s", std::strerror(error));
      backoff_until_ns_ = MonotonicNanos() + absl::ToInt64Nanoseconds(options_.accept_backoff);
      return;
    }
  }
  accepting_ = true;
}

void EchoWorker::MaybeResumeAccepting() {
  if (!accepting_ && backoff_until_ns_ == 0 && open_ < options_.max_connections) {
    ResumeAccepting();
  }
}

void EchoWorker::CloseAll() {
  PauseAccepting(/*kick_others=*/false);
  stop_requested_ = true;  // and never accept again
  for (size_t word = 0; word < open_fds_.size(); ++word) {
    while (open_fds_[word] != 0) {
      int bit = __builtin_ctzll(open_fds_[word]);
      CloseConnection(static_cast<int>(word * 64 + static_cast<size_t>(bit)));
    }
  }
}

}  // namespace fourtuple::target_server
