#include "agent/worker/connection_engine.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/worker/echo_payload.h"
#include "agent/worker/failure_samples.h"
#include "common/address.h"
#include "common/failure_reason.h"
#include "common/host_facts.h"
#include "common/logging.h"
#include "common/posix_error.h"

namespace fourtuple::agent {
namespace {

constexpr int kMaxEvents = 1024;
// SourcePorts::kAgent: ports tried for one connection before it fails.
constexpr int kPortTries = 16;
// SourcePorts::kAgent: cursors per (address, target) pair up to this many
// pairs; past it each connection's port follows from its id alone.
constexpr uint64_t kMaxPortCursors = uint64_t{1} << 20;
// epoll tag slot of an outside fd (no connection has this slot).
constexpr uint32_t kExternalSlot = UINT32_MAX;
// Every connection is registered once, for all it will ever wait for:
// edge-triggered, so no epoll_ctl(MOD) is needed between phases.
constexpr uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr uint32_t kReadableEvents = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint32_t kPeerDoneEvents = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

// The shared block has one writer (this loop): load + store, no locked add.
void Add(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
void Set(std::atomic<uint64_t>& counter, uint64_t value) { counter.store(value, std::memory_order_relaxed); }

void ResetHistogram(SharedHistogram& h) {
  for (auto& bucket : h.buckets) bucket.store(0, std::memory_order_relaxed);
  h.count.store(0, std::memory_order_relaxed);
  h.sum_us.store(0, std::memory_order_relaxed);
  h.max_us.store(0, std::memory_order_relaxed);
}

uint64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint16_t PortOf(const sockaddr* a) {
  return ntohs(a->sa_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(a)->sin_port
                                       : reinterpret_cast<const sockaddr_in6*>(a)->sin6_port);
}

absl::Status CheckTimeout(absl::string_view field, uint64_t ms) {
  if (ms == 0 || ms > kMaxTimeoutMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.", field, " must be 1..", kMaxTimeoutMs, " ms, got ", ms));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionEngine>> ConnectionEngine::Create(AgentWorkerShared* shared,
                                                                           SourcePorts source_ports,
                                                                           const EngineClock* clock,
                                                                           size_t shared_bytes) {
  if (shared == nullptr || shared_bytes < sizeof(AgentWorkerShared)) {
    return absl::InvalidArgumentError("connection engine: no shared block");
  }
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return PosixError("connection engine: epoll_create1", errno);
  return std::unique_ptr<ConnectionEngine>(
      new ConnectionEngine(shared, shared_bytes, epoll_fd, source_ports, clock));
}

ConnectionEngine::ConnectionEngine(AgentWorkerShared* shared, size_t shared_bytes, int epoll_fd,
                                   SourcePorts source_ports, const EngineClock* clock)
    : shared_(shared),
      source_count_capacity_(SourceCountsIn(shared_bytes)),
      epoll_fd_(epoll_fd),
      clock_(clock),
      epoch_ns_(NowNanos()),
      source_ports_(source_ports),
      scratch_(new char[kScratchBytes]),
      payload_(new char[kMaxPayloadBytes]),
      events_(new epoll_event[kMaxEvents]) {}

ConnectionEngine::~ConnectionEngine() {
  if (started_ && !closed_) CloseAll();
  close(epoll_fd_);
}

// The monotonic clock is called directly, not through an EngineClock: a
// worker reads it per loop turn and per connect attempt, and a direct call is
// what it always was. The branch is taken the same way every time.
uint64_t ConnectionEngine::NowNanos() const {
  return clock_ == nullptr ? MonotonicNanos() : clock_->NowNanos();
}

uint64_t ConnectionEngine::NowMicros() const { return (NowNanos() - epoch_ns_) / 1000; }

absl::Status ConnectionEngine::WatchExternal(int fd, int tag) {
  if (tag < 0 || tag > 31) return absl::InvalidArgumentError("external tag must be 0..31");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = EpollTag(kExternalSlot, static_cast<uint32_t>(tag));
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0)
    return PosixError("epoll_ctl(ADD) outside fd", errno);
  return absl::OkStatus();
}

// ------------------------------------------------------------ commands

absl::Status ConnectionEngine::Start(const v1::WorkerStart& start) {
  if (started_ && !closed_) CloseAll();
  const v1::Assignment& a = start.assignment();
  if (a.targets_size() == 0 || a.targets_size() > kMaxTargets) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment.targets: need 1..", kMaxTargets, " endpoints, got ", a.targets_size()));
  }
  absl::StatusOr<EchoExchange> exchange = EchoExchangeOf(a);
  if (!exchange.ok()) return exchange.status();
  if (absl::Status s = CheckTimeout("connect_timeout_ms", a.connect_timeout_ms()); !s.ok()) return s;
  if (absl::Status s = CheckTimeout("echo_timeout_ms", a.echo_timeout_ms()); !s.ok()) return s;
  if (start.connections() > kMaxWorkerConnections) {
    return absl::InvalidArgumentError(absl::StrCat("worker slice of ", start.connections(),
                                                   " connections exceeds ", kMaxWorkerConnections));
  }
  if (start.first_connection() > UINT64_MAX - start.connections()) {
    return absl::InvalidArgumentError("worker slice overflows the connection id space");
  }
  if (start.max_in_flight() == 0) return absl::InvalidArgumentError("worker max_in_flight must be >= 1");
  if (!(start.connect_rate() >= 0) || !std::isfinite(start.connect_rate())) {
    return absl::InvalidArgumentError("worker connect_rate must be a finite number >= 0");
  }

  absl::StatusOr<SourceSpace> sources =
      SourceSpace::FromAssignment(a, start.first_connection() + start.connections());
  if (!sources.ok()) return sources.status();
  std::vector<SocketAddress> targets(a.targets_size());
  std::vector<std::string> target_names;
  for (int i = 0; i < a.targets_size(); ++i) {
    absl::StatusOr<Endpoint> endpoint = ParseEndpoint(a.targets(i));
    if (!endpoint.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("assignment.targets[", i, "]: ", endpoint.status().message()));
    }
    sockaddr_storage storage;
    targets[i].length = endpoint->ToSockaddr(&storage);
    std::memcpy(&targets[i].any, &storage, targets[i].length);
    target_names.push_back(endpoint->ToString());
  }
  for (size_t i = 0; i < sources->entries().size(); ++i) {
    if (sources->entries()[i].network.family != targets[0].any.sa_family) {
      return absl::InvalidArgumentError(absl::StrCat("assignment.source_addresses[", i, "] ",
                                                     a.source_addresses(static_cast<int>(i)),
                                                     " is not of the family of target ", a.targets(0)));
    }
  }
  const SourceWindow window = sources->WindowOf(start.first_connection(), start.connections());
  if (window.length > source_count_capacity_) {
    return absl::InvalidArgumentError(absl::StrCat("worker shared block holds ", source_count_capacity_,
                                                   " source address counters, the slice needs ",
                                                   window.length));
  }
  for (int i = 1; i < a.targets_size(); ++i) {
    if (targets[i].any.sa_family != targets[0].any.sa_family) {
      return absl::InvalidArgumentError(absl::StrCat("assignment.targets[", i, "] ", a.targets(i),
                                                     " is not of the family of ", a.targets(0)));
    }
  }
  if (absl::Status s = SetUpTls(start); !s.ok()) return s;
  if (absl::Status s = SetUpLoadModels(start); !s.ok()) return s;
  if (absl::Status s = SetUpOpening(start); !s.ok()) return s;
  if (absl::Status s = SetUpWs(start); !s.ok()) return s;
  if (!table_.Allocate(start.connections())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no memory for a table of ", start.connections(), " connections"));
  }

  ResetShared();
  agent_index_ = a.agent_index();
  first_connection_ = start.first_connection();
  connections_ = static_cast<uint32_t>(start.connections());
  max_in_flight_ = start.max_in_flight();
  connect_rate_ = start.connect_rate();
  echo_rate_ = start.echo_rate();
  pace_phase_ = start.worker_count() > 1 && start.worker_index() < start.worker_count()
                    ? static_cast<double>(start.worker_index()) / start.worker_count()
                    : 0;
  exchange_ = *std::move(exchange);
  connect_timeout_us_ = a.connect_timeout_ms() * 1000;
  echo_timeout_us_ = a.echo_timeout_ms() * 1000;
  sources_ = *std::move(sources);
  source_window_ = window;
  shared_->source_window_first.store(window.first, std::memory_order_relaxed);
  shared_->source_window_length.store(window.length, std::memory_order_relaxed);
  targets_ = std::move(targets);
  target_names_ = std::move(target_names);
  logged_failures_.assign(targets_.size(), {});
  SeedPortCursors(first_connection_);

  uint64_t now = NowMicros();
  wheel_.Reset(table_.data(), TickOf(now));
  limiter_.emplace(connect_rate_, RateLimiter::DefaultBurst(connect_rate_), now);
  echo_limiter_.reset();
  connect_started_ = false;
  connect_cursor_ = 0;
  in_flight_ = 0;
  open_ = 0;
  echo_active_ = false;
  echo_round_ = 0;
  echo_cursor_ = 0;
  echo_outstanding_ = 0;
  pending_round_ = 0;
  closed_ = false;
  failed_ = false;
  started_ = true;
  UpdatePhase();
  return absl::OkStatus();
}

absl::Status ConnectionEngine::BeginConnect() {
  if (!started_) return absl::FailedPreconditionError("connect before start");
  if (closed_) return absl::FailedPreconditionError("connect after close");
  if (failed_) return absl::FailedPreconditionError("connect after a failure");
  if (connect_started_) return absl::OkStatus();
  connect_started_ = true;
  // The schedule starts with the ramp, each worker at its own offset into
  // the interval so the workers' connects interleave.
  ramp_start_us_ = NowMicros();
  limiter_.emplace(connect_rate_, RateLimiter::DefaultBurst(connect_rate_), ramp_start_us_,
                   pace_phase_ * (connect_rate_ > 0 ? 1e6 / connect_rate_ : 0));
  PumpConnects();
  UpdatePhase();
  return absl::OkStatus();
}

absl::Status ConnectionEngine::BeginEcho(uint32_t round) {
  if (round == 0) return absl::InvalidArgumentError("echo rounds count from 1");
  if (!started_ || !connect_started_) return absl::FailedPreconditionError("echo before connect");
  if (closed_) return absl::FailedPreconditionError("echo after close");
  if (failed_) return absl::FailedPreconditionError("echo after a failure");
  if (echo_active_) {
    pending_round_ = round;
    return absl::OkStatus();
  }
  StartRound(round);
  UpdatePhase();
  return absl::OkStatus();
}

void ConnectionEngine::CloseAll() {
  shared_->phase.store(static_cast<uint32_t>(WorkerPhase::kClosing), std::memory_order_release);
  if (ws_ && !closed_) CloseWsGracefully();
  for (uint32_t slot = 0; slot < connect_cursor_; ++slot) {
    Connection& c = table_[slot];
    if (c.fd >= 0) CloseFd(c, /*reset=*/CloseResets() && c.state != ConnState::kConnecting);
  }
  if (table_.data() != nullptr) wheel_.Reset(table_.data(), TickOf(NowMicros()));
  EndLoadModels();
  in_flight_ = 0;
  open_ = 0;
  echo_active_ = false;
  echo_outstanding_ = 0;
  pending_round_ = 0;
  Set(shared_->in_flight, 0);
  Set(shared_->open, 0);
  closed_ = true;
  UpdatePhase();
}

void ConnectionEngine::Fail(absl::string_view message) {
  LOG_ERROR("worker failed: %s", message);
  size_t n = std::min(message.size(), sizeof shared_->error - 1);
  std::memcpy(shared_->error, message.data(), n);
  shared_->error[n] = '\0';
  shared_->error_set.store(1, std::memory_order_release);
  failed_ = true;
  UpdatePhase();
}

void ConnectionEngine::ResetShared() {
  AgentWorkerShared& s = *shared_;
  s.phase.store(static_cast<uint32_t>(WorkerPhase::kStarting), std::memory_order_relaxed);
  s.echo_round.store(0, std::memory_order_relaxed);
  s.echo_rounds_done.store(0, std::memory_order_relaxed);
  for (std::atomic<uint64_t>* counter :
       {&s.attempted, &s.established, &s.open, &s.in_flight, &s.failed, &s.closed_by_peer, &s.echo_sent,
        &s.echo_verified, &s.echo_mismatched, &s.echo_timed_out, &s.echo_closed}) {
    Set(*counter, 0);
  }
  for (auto& counter : s.failures) Set(counter, 0);
  for (uint64_t i = 0; i < source_count_capacity_; ++i) {
    s.source_counts[i].established.store(0, std::memory_order_relaxed);
    s.source_counts[i].failed.store(0, std::memory_order_relaxed);
  }
  Set(s.source_window_first, 0);
  Set(s.source_window_length, 0);
  ResetHistogram(s.connect_latency);
  ResetHistogram(s.echo_rtt);
  ResetHistogram(s.connect_queue);
  ResetHistogram(s.connect_gap);
  ResetTlsShared();
  ResetLoadModelShared();
  ResetFailureSamples(s);
  ResetWsShared();
  s.error_set.store(0, std::memory_order_relaxed);
  s.error[0] = '\0';
}

WorkerPhase ConnectionEngine::phase() const {
  return static_cast<WorkerPhase>(shared_->phase.load(std::memory_order_relaxed));
}

void ConnectionEngine::UpdatePhase() {
  WorkerPhase phase;
  if (failed_) {
    phase = WorkerPhase::kFailed;
  } else if (closed_) {
    phase = WorkerPhase::kClosed;
  } else if (!started_) {
    phase = WorkerPhase::kStarting;
  } else if (echo_active_) {
    phase = WorkerPhase::kEchoing;
  } else if (connect_started_) {
    // Once settled, reconnects in flight do not make the ramp run again.
    bool settled = ramp_done_ || (connect_cursor_ == connections_ && in_flight_ == 0);
    phase = settled ? WorkerPhase::kConnected : WorkerPhase::kConnecting;
    if (settled && !ramp_done_) OnRampSettled();
  } else {
    phase = WorkerPhase::kReady;
  }
  if (phase == WorkerPhase::kConnected && this->phase() == WorkerPhase::kConnecting) OnRampDone();
  // Release: a reader that sees the phase sees the counters that led to it.
  shared_->phase.store(static_cast<uint32_t>(phase), std::memory_order_release);
}

// ------------------------------------------------------------ the loop

int64_t ConnectionEngine::WaitMicros(int max_wait_ms) {
  int64_t wait = max_wait_ms < 0 ? -1 : int64_t{max_wait_ms} * 1000;
  auto consider = [&wait](uint64_t micros) {
    const int64_t us = static_cast<int64_t>(std::min<uint64_t>(micros, INT64_MAX));
    if (wait < 0 || us < wait) wait = us;
  };
  uint64_t now = NowMicros();
  if (!wheel_.empty()) {
    // Until the tick the earliest timeout is due in, not every tick.
    const int32_t ticks_ahead = static_cast<int32_t>(wheel_.EarliestDueTick() - TickOf(now));
    consider(ticks_ahead <= 0 ? 0 : uint64_t(ticks_ahead) * kEngineTickUs - now % kEngineTickUs);
  }
  if (connect_started_ && !closed_ && !failed_ && connect_cursor_ < connections_ &&
      in_flight_ < max_in_flight_) {
    consider(limiter_->MicrosUntilBatch(now));
  }
  if (EchoWaitsForToken()) consider(echo_limiter_->MicrosUntilBatch(now));
  if (const int64_t load_wait = LoadModelWaitMicros(now); load_wait >= 0) consider(load_wait);
  return wait;
}

int ConnectionEngine::WaitForEvents(int64_t wait_us) {
  // Paced connects are microseconds apart: a millisecond timeout would
  // bunch a millisecond of them into one wake-up.
  if (have_pwait2_) {
    timespec timeout{};
    timeout.tv_sec = wait_us / 1'000'000;
    timeout.tv_nsec = (wait_us % 1'000'000) * 1000;
    int count = epoll_pwait2(epoll_fd_, events_.get(), kMaxEvents, wait_us < 0 ? nullptr : &timeout, nullptr);
    if (count >= 0 || errno != ENOSYS) return count;
    have_pwait2_ = false;  // a kernel older than 5.11
  }
  const int wait_ms = wait_us < 0 ? -1 : static_cast<int>(std::min<int64_t>((wait_us + 999) / 1000, INT_MAX));
  return epoll_wait(epoll_fd_, events_.get(), kMaxEvents, wait_ms);
}

absl::StatusOr<uint32_t> ConnectionEngine::RunOnce(int max_wait_ms) {
  int count = WaitForEvents(WaitMicros(max_wait_ms));
  if (count < 0) {
    if (errno != EINTR) return PosixError("epoll_wait", errno);
    count = 0;
  }
  uint32_t external = 0;
  for (int i = 0; i < count; ++i) {
    uint64_t tag = events_[i].data.u64;
    uint32_t slot = EpollTagSlot(tag);
    if (slot == kExternalSlot) {
      external |= 1u << EpollTagGeneration(tag);
      continue;
    }
    if (slot >= connect_cursor_) continue;
    Connection& c = table_[slot];
    // A connection closed earlier in this batch (or in an earlier run).
    if (c.generation != EpollTagGeneration(tag) || c.fd < 0) continue;
    if (c.state == ConnState::kConnecting) {
      OnConnectEvent(slot, c, events_[i].events);
    } else if (c.state == ConnState::kHandshaking) {
      OnHandshakeEvent(slot, c, events_[i].events);
    } else if (c.state == ConnState::kGreeting || c.state == ConnState::kOpening) {
      OnOpeningEvent(slot, c, events_[i].events);
    } else if (c.state == ConnState::kUpgrading) {
      OnUpgradeEvent(slot, c, events_[i].events);
    } else {
      OnEstablishedEvent(slot, c, events_[i].events);
    }
  }
  if (started_ && !closed_) {
    wheel_.Advance(TickOf(NowMicros()), [this](uint32_t slot) { OnTimeout(slot); });
    PumpConnects();
    PumpLoadModels();
    PumpEchoes();
  }
  UpdatePhase();
  return external;
}

// ------------------------------------------------------------ connecting

void ConnectionEngine::PumpConnects() {
  if (!connect_started_ || closed_ || failed_) return;
  uint64_t now = NowMicros();
  const double interval_us = limiter_->interval_us();
  while (connect_cursor_ < connections_ && in_flight_ < max_in_flight_ && limiter_->TryTake(now)) {
    // When the schedule had this connection due: the ramp's start plus its
    // place in the rate (at once, when unlimited). Any later is our queue.
    const uint64_t due_us =
        ramp_start_us_ + static_cast<uint64_t>((connect_cursor_ + pace_phase_) * interval_us);
    shared_->connect_queue.Record(now > due_us ? now - due_us : 0);
    if (connect_cursor_ > 0) shared_->connect_gap.Record(now - last_connect_us_);
    last_connect_us_ = now;
    StartConnect(connect_cursor_++);
    now = NowMicros();
  }
}

void ConnectionEngine::StartConnect(uint32_t slot) {
  Connection& c = table_[slot];
  c = Connection{};
  c.fd = -1;
  c.generation = next_generation_++;
  c.state = ConnState::kConnecting;
  TimerWheel<Connection>::MarkUnscheduled(c);
  if (tls_) tls_by_slot_[slot] = nullptr;
  Add(shared_->attempted);
  OpenSlot(slot, c);
}

void ConnectionEngine::OpenSlot(uint32_t slot, Connection& c) {
  // With the agent's own ports a port found taken (by another program or a
  // leftover) is skipped: a few more tries before giving up on the connection.
  const int tries = source_ports_ == SourcePorts::kAgent ? kPortTries : 1;
  int error = 0;
  uint64_t now = 0;
  for (int attempt = 0; attempt < tries; ++attempt) {
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    now = NowMicros();
    error = OpenAndConnect(c, first_connection_ + slot, attempt, now);
    if (error != EADDRINUSE && error != EADDRNOTAVAIL) break;
  }
  if (error != 0) return FailConnect(slot, c, error);
  epoll_event event{};
  event.events = kConnectionEvents;
  event.data.u64 = EpollTag(slot, c.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event) != 0) return FailConnect(slot, c, errno);
  ++in_flight_;
  Set(shared_->in_flight, in_flight_);
  wheel_.Schedule(slot, DeadlineTick(now, connect_timeout_us_));
}

int ConnectionEngine::OpenAndConnect(Connection& c, uint64_t id, int attempt, uint64_t now) {
  const uint32_t target_index = sources_.TargetOf(id);
  const SocketAddress& target = targets_[target_index];
  bool freebind = false;
  const Endpoint source_endpoint{sources_.AddressOf(sources_.OrdinalOf(id), &freebind), 0};
  SocketAddress source;
  {
    sockaddr_storage storage;
    source.length = source_endpoint.ToSockaddr(&storage);
    std::memcpy(&source.any, &storage, source.length);
  }
  c.fd = socket(target.any.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return errno;
  int one = 1;
  // An IPv6 address inside a local-route prefix is on no interface: the
  // bind needs IPV6_FREEBIND (preflight checked the route exists).
  if (freebind && setsockopt(c.fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one) != 0) return errno;
  if (source_ports_ == SourcePorts::kKernel) {
    // The kernel picks the source port at connect() per 4-tuple, not at
    // bind() per address: each source address then serves a full ephemeral
    // range per target endpoint.
    if (setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) return errno;
  } else {
    // The next port of this (source, target) pair. SO_REUSEADDR lets one
    // (source, port) serve every target endpoint, as the kernel's choice
    // does; connect() still refuses a 4-tuple in use (EADDRNOTAVAIL).
    if (setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return errno;
    const uint16_t port = AgentPort(id, attempt);
    if (source.any.sa_family == AF_INET) {
      source.v4.sin_port = port;
    } else {
      source.v6.sin6_port = port;
    }
  }
  if (bind(c.fd, &source.any, source.length) != 0) return errno;
  c.stamp_us = static_cast<uint32_t>(now);
  if (connect(c.fd, &target.any, target.length) != 0 && errno != EINPROGRESS) return errno;
  return 0;
}

void ConnectionEngine::SeedPortCursors(uint64_t first_connection) {
  port_cursors_.clear();
  if (source_ports_ != SourcePorts::kAgent) return;
  // The ports the kernel would pick from (this network namespace's range):
  // what preflight counted on, and where nothing else binds by default.
  unsigned low = 32768, high = 60999;  // the kernel's default range
  absl::StatusOr<std::string> text = ReadSmallFile("/proc/sys/net/ipv4/ip_local_port_range");
  if (text.ok() &&
      (std::sscanf(text->c_str(), "%u %u", &low, &high) != 2 || low < 1 || high > 65535 || low > high)) {
    low = 32768;
    high = 60999;
  }
  port_low_ = low;
  port_count_ = high - low + 1;
  // With one connection per (address, target) pair at a time (the default
  // round-robin), connection id i is pair p = i mod pairs's (i / pairs)-th:
  // starting each cursor at the slice's first such index gives every worker
  // of the agent its own ports, as if one cursor ran through all. Otherwise
  // (or with too many pairs for cursors) AgentPort derives the port from the id.
  const uint64_t pairs = sources_.Used() * targets_.size();
  if (sources_.per_address() != targets_.size() || pairs > kMaxPortCursors) return;
  port_cursors_.resize(pairs);
  for (uint64_t p = 0; p < pairs; ++p) {
    const uint64_t first_of_pair = first_connection + (p + pairs - first_connection % pairs) % pairs;
    port_cursors_[p] = static_cast<uint32_t>((first_of_pair / pairs) % port_count_);
  }
}

uint16_t ConnectionEngine::AgentPort(uint64_t id, int attempt) {
  uint64_t index;
  if (!port_cursors_.empty()) {
    uint32_t& cursor = port_cursors_[id % port_cursors_.size()];
    index = cursor;
    if (++cursor == port_count_) cursor = 0;
  } else {
    // Address ordinal a takes ids c*q*U + a*q + j (q per address, U
    // addresses, j < q): c*q + j numbers its connections, so no two of one
    // address share a port. A retry moves on by one.
    const uint64_t q = sources_.per_address();
    index = (id / (q * sources_.Used())) * q + id % q + static_cast<uint64_t>(attempt);
  }
  return htons(static_cast<uint16_t>(port_low_ + index % port_count_));
}

SourceCount& ConnectionEngine::SourceCountOf(uint32_t slot) {
  const uint64_t ordinal = sources_.OrdinalOf(first_connection_ + slot);
  return shared_->source_counts[sources_.IndexIn(source_window_, ordinal)];
}

void ConnectionEngine::FailConnect(uint32_t slot, Connection& c, int reason) {
  if (TimerWheel<Connection>::IsScheduled(c)) {  // registered: it was pending
    wheel_.Cancel(slot);
    --in_flight_;
    Set(shared_->in_flight, in_flight_);
  }
  FreeTls(slot);
  ForgetWs(slot);
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  c.state = ConnState::kClosed;
  if (c.flags & kConnFlagReopen) return OnReopenFailed(slot, c, reason);
  CountFailure(slot, c, reason);
}

bool ConnectionEngine::IsSelfConnect(uint32_t slot, const Connection& c) const {
  // Only possible when source and target address are the same (and the
  // target port lies in the ephemeral range): one getsockname, and only then.
  const uint64_t id = first_connection_ + slot;
  const SocketAddress& target = targets_[sources_.TargetOf(id)];
  if (!(Endpoint::FromSockaddr(&target.any).address == sources_.AddressOf(sources_.OrdinalOf(id)))) {
    return false;
  }
  sockaddr_storage local;
  socklen_t length = sizeof local;
  if (getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return false;
  return PortOf(reinterpret_cast<sockaddr*>(&local)) == PortOf(&target.any);
}

void ConnectionEngine::OnConnectEvent(uint32_t slot, Connection& c, uint32_t events) {
  if (events & (EPOLLERR | EPOLLHUP)) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0) return FailConnect(slot, c, error);
  }
  if (!(events & EPOLLOUT)) return;
  // Connected to itself (muduo's Connector rejects this too): nothing listens
  // on the target, so it counts as refused.
  if (IsSelfConnect(slot, c)) return FailConnect(slot, c, ECONNREFUSED);

  wheel_.Cancel(slot);
  uint32_t latency_us = static_cast<uint32_t>(NowMicros()) - c.stamp_us;
  shared_->connect_latency.Record(latency_us);
  if (tls_) return BeginHandshake(slot, c);
  if (ws_) return BeginUpgrade(slot, c);
  EstablishOrOpen(slot, c, events);
}

void ConnectionEngine::Establish(uint32_t slot, Connection& c, uint32_t events) {
  if (c.flags & kConnFlagReopen) {
    OnReopened(slot, c);
  } else {
    Add(shared_->established);
    std::atomic<uint32_t>& by_source = SourceCountOf(slot).established;
    by_source.store(by_source.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  ++open_;
  Set(shared_->open, open_);
  c.state = ConnState::kIdle;
  // The far side may have closed (or written) already, and with edge
  // triggering that edge is this one.
  if (events & kReadableEvents) ReadEcho(slot, c, events);
}

// ------------------------------------------------------------ established

void ConnectionEngine::OnEstablishedEvent(uint32_t slot, Connection& c, uint32_t events) {
  if ((events & EPOLLOUT) && c.state == ConnState::kEchoing &&
      c.echo_sent < (ws_ ? WsRequestBytes() : exchange_.send_bytes())) {
    if (!SendEcho(slot, c)) return;
  }
  if (events & kReadableEvents) ReadEcho(slot, c, events);
}

EchoId ConnectionEngine::EchoIdOf(uint32_t slot) const {
  return EchoId{agent_index_, first_connection_ + slot, echo_round_};
}

bool ConnectionEngine::SendEcho(uint32_t slot, Connection& c) {
  if (ws_) return SendWsEcho(slot, c);
  while (c.echo_sent < exchange_.send_bytes()) {
    size_t size = exchange_.send_bytes() - c.echo_sent;
    const char* data = exchange_.SendData(EchoIdOf(slot), c.echo_sent, size, payload_.get());
    ssize_t sent = SendBytes(slot, c, data, size);
    if (sent > 0) {
      c.echo_sent = static_cast<uint16_t>(c.echo_sent + sent);
      // The round trip runs from the moment the whole payload was written: a
      // write the socket held back is our delay, not the target's.
      if (c.echo_sent == exchange_.send_bytes() && c.echo_sent != sent) {
        c.stamp_us = static_cast<uint32_t>(NowMicros());
      }
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // EPOLLOUT resumes it
    LoseConnection(slot, c, sent < 0 ? errno : EIO);
    return false;
  }
  return true;
}

bool ConnectionEngine::ReadEcho(uint32_t slot, Connection& c, uint32_t events) {
  if (ws_) return ReadWs(slot, c, events);
  // With the far side done, read on to the end-of-file or error: with edge
  // triggering there is no later event to notice it by.
  bool peer_done = (events & kPeerDoneEvents) != 0;
  for (;;) {
    size_t want;
    if (c.state == ConnState::kEchoing) {
      // One byte more than the reply: a surplus in the same read is caught
      // now (a reply must be exactly what is expected) at no extra syscall.
      want = size_t{c.echo_skip} + (exchange_.expect_bytes() - c.echo_received) + 1;
    } else {
      // Idle: late bytes of a timed-out echo, else only an end-of-file or a
      // stray byte can be there.
      want = c.echo_skip > 0 ? c.echo_skip : kScratchBytes;
    }
    size_t request = std::min(want, kScratchBytes);
    ssize_t n = RecvBytes(slot, c, scratch_.get(), request);
    if (n == 0) {
      LoseConnection(slot, c, kReasonPeerClosed);
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      LoseConnection(slot, c, errno);
      return false;
    }
    size_t got = static_cast<size_t>(n);
    const char* data = scratch_.get();
    size_t skipped = std::min<size_t>(got, c.echo_skip);
    c.echo_skip = static_cast<uint16_t>(c.echo_skip - skipped);
    data += skipped;
    got -= skipped;
    if (got > 0) {
      if (c.state != ConnState::kEchoing && (c.flags & kConnFlagGreetingTail)) continue;  // the banner's rest
      if (c.state != ConnState::kEchoing) {
        // The target sent bytes nobody asked for: not an echo server's reply.
        SampleReply(slot, c, kReasonEchoMismatch, nullptr, 0, data, got);
        CountFailure(slot, c, kReasonEchoMismatch);
        DropConnection(slot, c);
        return false;
      }
      const size_t owed = exchange_.expect_bytes() - c.echo_received;
      if (got > owed || !exchange_.ReplyMatches(EchoIdOf(slot), c.echo_received, data, got)) {
        Add(shared_->echo_mismatched);
        SampleEchoReply(slot, c, c.echo_received, data, got);
        CountFailure(slot, c, kReasonEchoMismatch);
        DropConnection(slot, c);
        return false;
      }
      c.echo_received = static_cast<uint16_t>(c.echo_received + got);
      if (c.echo_received == exchange_.expect_bytes()) {
        FinishEcho(slot, c);
        if (!peer_done) return true;  // nothing more is owed: spare the read that would say EAGAIN
        continue;
      }
    }
    // Drained; a TLS record may hold less than asked with more queued behind
    // it, so through TLS only EAGAIN says so.
    if (static_cast<size_t>(n) < request && !peer_done && !tls_) return true;
  }
}

void ConnectionEngine::StartEcho(uint32_t slot, Connection& c, uint64_t now) {
  c.state = ConnState::kEchoing;
  c.flags &= static_cast<uint8_t>(~kConnFlagGreetingTail);
  c.echo_sent = 0;
  c.echo_received = 0;
  c.stamp_us = static_cast<uint32_t>(now);
  ++echo_outstanding_;
  Add(shared_->echo_sent);
  wheel_.Schedule(slot, DeadlineTick(now, echo_timeout_us_));
  SendEcho(slot, c);
}

void ConnectionEngine::FinishEcho(uint32_t slot, Connection& c) {
  wheel_.Cancel(slot);
  --echo_outstanding_;
  uint32_t rtt_us = static_cast<uint32_t>(NowMicros()) - c.stamp_us;
  shared_->echo_rtt.Record(rtt_us);
  Add(shared_->echo_verified);
  Add(shared_->reopen.round_verified);
  c.state = ConnState::kIdle;
  c.echo_sent = 0;
  c.echo_received = 0;
  ArmWsPing(slot, NowMicros());
}

void ConnectionEngine::StartRound(uint32_t round) {
  echo_round_ = round;
  shared_->echo_round.store(round, std::memory_order_relaxed);
  Set(shared_->reopen.round_verified, 0);
  echo_active_ = true;
  echo_cursor_ = 0;
  echo_limiter_.emplace(echo_rate_, RateLimiter::DefaultBurst(echo_rate_), NowMicros(),
                        pace_phase_ * (echo_rate_ > 0 ? 1e6 / echo_rate_ : 0));
  PumpEchoes();
}

void ConnectionEngine::PumpEchoes() {
  if (!echo_active_) return;
  uint64_t now = NowMicros();
  // A steady stream at the round's pace, at most max_in_flight outstanding,
  // not one burst of every connection at once: a burst would measure our
  // own queue at the target, not its round trip.
  while (echo_outstanding_ < max_in_flight_) {
    while (echo_cursor_ < connect_cursor_ && table_[echo_cursor_].state != ConnState::kIdle) ++echo_cursor_;
    if (echo_cursor_ >= connect_cursor_ || !echo_limiter_->TryTake(now)) break;
    uint32_t slot = echo_cursor_++;
    StartEcho(slot, table_[slot], now);
    now = NowMicros();
  }
  if (echo_cursor_ >= connect_cursor_ && echo_outstanding_ == 0) {
    echo_active_ = false;
    shared_->echo_rounds_done.store(echo_round_, std::memory_order_release);
    if (pending_round_ != 0) {
      uint32_t next = pending_round_;
      pending_round_ = 0;
      StartRound(next);
    }
  }
}

bool ConnectionEngine::EchoWaitsForToken() const {
  return echo_active_ && !closed_ && !failed_ && echo_cursor_ < connect_cursor_ &&
         echo_outstanding_ < max_in_flight_;
}

void ConnectionEngine::OnTimeout(uint32_t slot) {
  Connection& c = table_[slot];
  if (c.state == ConnState::kBackoff) return OnBackoffDone(slot, c);
  if (c.state == ConnState::kConnecting || c.state == ConnState::kHandshaking ||
      c.state == ConnState::kGreeting || c.state == ConnState::kOpening || c.state == ConnState::kUpgrading) {
    --in_flight_;
    Set(shared_->in_flight, in_flight_);
    FailConnect(slot, c,
                c.state == ConnState::kConnecting    ? kReasonConnectTimeout
                : c.state == ConnState::kHandshaking ? kReasonTlsHandshakeTimeout
                : c.state == ConnState::kGreeting    ? kReasonGreetingTimeout
                : c.state == ConnState::kUpgrading   ? kReasonWsUpgradeTimeout
                                                     : kReasonEchoTimeout);
    return;
  }
  if (ws_ && c.state == ConnState::kIdle) return OnWsTimer(slot, c);
  if (c.state != ConnState::kEchoing) return;
  Add(shared_->echo_timed_out);
  CountFailure(slot, c, kReasonEchoTimeout);
  --echo_outstanding_;
  c.state = ConnState::kIdle;
  // The connection stays: its late reply is discarded when it comes, so the
  // next round reads only its own bytes.
  const int64_t reply_owed = exchange_.ReplyOwed(c.echo_sent, c.echo_received);
  const int64_t owed = int64_t{c.echo_skip} + reply_owed;
  c.echo_sent = 0;
  c.echo_received = 0;
  // Over WebSocket a late reply cannot be told from the frames around it.
  if (reply_owed < 0 || owed > UINT16_MAX || ws_) {  // cannot keep track of it: give it up
    DropConnection(slot, c);
    return;
  }
  c.echo_skip = static_cast<uint16_t>(owed);
}

void ConnectionEngine::LoseConnection(uint32_t slot, Connection& c, int reason) {
  if (c.state == ConnState::kEchoing) {
    wheel_.Cancel(slot);
    --echo_outstanding_;
    Add(shared_->echo_closed);
  }
  Add(shared_->closed_by_peer);
  // With reconnect a drop is counted as one (reopen.drops), not as a failure.
  const bool reconnects = reconnect_.has_value() && !closed_;
  if (!reconnects) CountFailure(slot, c, reason);
  CloseFd(c, /*reset=*/false);  // the far side closed first: no TIME_WAIT here
  --open_;
  Set(shared_->open, open_);
  if (reconnects) ReconnectAfterDrop(slot, c);
}

void ConnectionEngine::DropConnection(uint32_t slot, Connection& c) {
  if (c.state == ConnState::kEchoing) {
    wheel_.Cancel(slot);
    --echo_outstanding_;
  }
  CloseFd(c, /*reset=*/true);
  --open_;
  Set(shared_->open, open_);
}

// ------------------------------------------------------------ bookkeeping

void ConnectionEngine::RecordFailureSample(int reason, const char* data, size_t size) {
  agent::RecordFailureSample(*shared_, reason, data, size);
}

void ConnectionEngine::SampleReply(uint32_t slot, const Connection& c, int reason, const char* head,
                                   size_t head_size, const char* data, size_t size) {
  if (HasFailureSample(*shared_, reason)) return;
  char sample[kFailureSampleBytes];
  size_t have = std::min(head_size, kFailureSampleBytes);
  if (have > 0) std::memcpy(sample, head, have);
  const size_t tail = std::min(size, kFailureSampleBytes - have);
  std::memcpy(sample + have, data, tail);
  have += tail;
  // A read of exactly what was owed leaves the rest of the reply unread.
  if (have < kFailureSampleBytes && c.fd >= 0) {
    const ssize_t more = RecvBytes(slot, c, scratch_.get(), kScratchBytes);
    if (more > 0) {
      const size_t extra = std::min(static_cast<size_t>(more), kFailureSampleBytes - have);
      std::memcpy(sample + have, scratch_.get(), extra);
      have += extra;
    }
  }
  RecordFailureSample(reason, sample, have);
}

void ConnectionEngine::SampleEchoReply(uint32_t slot, const Connection& c, size_t matched, const char* data,
                                       size_t size) {
  if (HasFailureSample(*shared_, kReasonEchoMismatch)) return;
  char head[kFailureSampleBytes];
  const size_t head_size = std::min(matched, kFailureSampleBytes);
  const char* expected = exchange_.ExpectData(EchoIdOf(slot), 0, head_size, head);
  SampleReply(slot, c, kReasonEchoMismatch, expected, head_size, data, size);
}

void ConnectionEngine::CloseFd(Connection& c, bool reset) {
  if (reset) {
    // RST instead of FIN: no TIME_WAIT holding the source port.
    linger abort{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  FreeTls(SlotOf(c));
  ForgetWs(SlotOf(c));
  close(c.fd);  // also leaves the epoll set: no EPOLL_CTL_DEL needed
  c.fd = -1;
  c.state = ConnState::kClosed;
}

void ConnectionEngine::CountFailure(uint32_t slot, Connection& c, int reason) {
  if (c.flags & kConnFlagFailed) return;  // a connection fails once
  c.flags |= kConnFlagFailed;
  int code = ReasonCode(reason);
  Add(shared_->failed);
  Add(shared_->failures[code]);
  std::atomic<uint32_t>& by_source = SourceCountOf(slot).failed;
  by_source.store(by_source.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // The first failure of a kind per target is logged, the rest only counted.
  const uint64_t id = first_connection_ + slot;
  const uint32_t target = sources_.TargetOf(id);
  std::bitset<kReasonSlots>& logged = logged_failures_[target];
  if (!logged.test(code)) {
    logged.set(code);
    LOG_WARNING("connection %d from %s to %s: %s (further %s failures to this target are only counted)", id,
                sources_.AddressOf(sources_.OrdinalOf(id)).ToString(), target_names_[target],
                ReasonName(code), ReasonName(code));
  }
}

}  // namespace fourtuple::agent
