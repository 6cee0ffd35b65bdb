#include "target-server/echo_worker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/address.h"
#include "common/websocket.h"
#include "gtest/gtest.h"
#include "target-server/counters.h"
#include "target-server/listener.h"

namespace fourtuple::target_server {
namespace {

uint64_t Get(const std::atomic<uint64_t>& counter) { return counter.load(std::memory_order_relaxed); }

class EchoWorkerTest : public ::testing::Test {
 protected:
  // Counters in ordinary memory, zero-filled like the shared block.
  WorkerCounters* NewCounters() {
    blocks_.push_back(std::make_unique<char[]>(sizeof(WorkerCounters)));
    std::memset(blocks_.back().get(), 0, sizeof(WorkerCounters));
    return reinterpret_cast<WorkerCounters*>(blocks_.back().get());
  }

  std::unique_ptr<EchoWorker> NewWorker(WorkerCounters* counters, EchoWorkerOptions options = {},
                                        std::vector<int> listeners = {}, int kick_fd = -1) {
    if (options.max_connections == 0) options.max_connections = 100;
    auto worker = EchoWorker::Create(listeners, kick_fd, counters, options);
    EXPECT_TRUE(worker.ok()) << worker.status();
    return worker.ok() ? *std::move(worker) : nullptr;
  }

  // A nonblocking socketpair: [0] goes to the worker, [1] is the peer.
  void SocketPair(int fds[2]) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  }

  // Reads what the peer has, running the worker in between, until `want`
  // bytes arrived or 5 s passed.
  std::string ReadEcho(EchoWorker& worker, int peer, size_t want) {
    std::string got;
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (got.size() < want && absl::Now() < deadline) {
      EXPECT_TRUE(worker.RunOnce(absl::Milliseconds(10)).ok());
      char buffer[65536];
      ssize_t n;
      while ((n = read(peer, buffer, sizeof(buffer))) > 0) got.append(buffer, static_cast<size_t>(n));
    }
    return got;
  }

  std::vector<std::unique_ptr<char[]>> blocks_;
};

TEST_F(EchoWorkerTest, EchoesEveryByteOnTheSameConnection) {
  WorkerCounters* counters = NewCounters();
  auto worker = NewWorker(counters);
  int a[2], b[2];
  SocketPair(a);
  SocketPair(b);
  ASSERT_TRUE(worker->AddConnection(a[0]).ok());
  ASSERT_TRUE(worker->AddConnection(b[0]).ok());
  EXPECT_EQ(worker->open(), 2u);
  EXPECT_EQ(Get(counters->open), 2u);

  ASSERT_EQ(write(a[1], "first connection", 16), 16);
  ASSERT_EQ(write(b[1], "second", 6), 6);
  EXPECT_EQ(ReadEcho(*worker, a[1], 16), "first connection");
  EXPECT_EQ(ReadEcho(*worker, b[1], 6), "second");
  // A second message on a connection that already echoed once (a new edge).
  ASSERT_EQ(write(a[1], "again", 5), 5);
  EXPECT_EQ(ReadEcho(*worker, a[1], 5), "again");
  EXPECT_EQ(Get(counters->bytes_echoed), 27u);
  EXPECT_EQ(worker->pending_writes(), 0u);
  close(a[1]);
  close(b[1]);
}

TEST_F(EchoWorkerTest, PeerCloseClosesAndCounts) {
  WorkerCounters* counters = NewCounters();
  auto worker = NewWorker(counters);
  int fds[2];
  SocketPair(fds);
  ASSERT_TRUE(worker->AddConnection(fds[0]).ok());
  // Data and EOF together: the echo goes out and the FIN is not left unread.
  ASSERT_EQ(write(fds[1], "bye", 3), 3);
  ASSERT_EQ(shutdown(fds[1], SHUT_WR), 0);
  EXPECT_EQ(ReadEcho(*worker, fds[1], 3), "bye");
  for (int i = 0; i < 10 && worker->open() > 0; ++i)
    ASSERT_TRUE(worker->RunOnce(absl::Milliseconds(10)).ok());
  EXPECT_EQ(worker->open(), 0u);
  EXPECT_EQ(Get(counters->open), 0u);
  EXPECT_EQ(Get(counters->closed), 1u);
  // The worker closed its end: the peer reads EOF.
  char c;
  EXPECT_EQ(read(fds[1], &c, 1), 0);
  close(fds[1]);
}

TEST_F(EchoWorkerTest, BlockedWriteHoldsOneBufferUntilThePeerReads) {
  WorkerCounters* counters = NewCounters();
  EchoWorkerOptions options;
  options.buffer_bytes = 4096;
  auto worker = NewWorker(counters, options);
  int fds[2];
  SocketPair(fds);
  int small = 4096;
  ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  ASSERT_EQ(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  ASSERT_TRUE(worker->AddConnection(fds[0]).ok());

  // Send far more than the buffers hold without reading the echo.
  std::string sent;
  for (int i = 0; sent.size() < 2'000'000; ++i) sent += std::to_string(i) + ",";
  size_t written = 0;
  for (int round = 0; round < 200 && worker->pending_writes() == 0; ++round) {
    ssize_t n = write(fds[1], sent.data() + written, sent.size() - written);
    if (n > 0) written += static_cast<size_t>(n);
    ASSERT_TRUE(worker->RunOnce(absl::Milliseconds(1)).ok());
  }
  ASSERT_EQ(worker->pending_writes(), 1u) << "the echo never blocked";

  // Now read everything back while writing the rest.
  std::string got;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (got.size() < sent.size() && absl::Now() < deadline) {
    if (written < sent.size()) {
      ssize_t n = write(fds[1], sent.data() + written, sent.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
    }
    ASSERT_TRUE(worker->RunOnce(absl::Milliseconds(1)).ok());
    char buffer[65536];
    ssize_t n;
    while ((n = read(fds[1], buffer, sizeof(buffer))) > 0) got.append(buffer, static_cast<size_t>(n));
  }
  ASSERT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "echoed bytes differ from those sent";
  EXPECT_EQ(worker->pending_writes(), 0u);
  EXPECT_EQ(Get(counters->bytes_echoed), sent.size());
  close(fds[1]);
}

TEST_F(EchoWorkerTest, CloseAllClosesEveryConnection) {
  WorkerCounters* counters = NewCounters();
  auto worker = NewWorker(counters);
  std::vector<int> peers;
  for (int i = 0; i < 100; ++i) {
    int fds[2];
    SocketPair(fds);
    ASSERT_TRUE(worker->AddConnection(fds[0]).ok());
    peers.push_back(fds[1]);
  }
  EXPECT_EQ(Get(counters->open), 100u);
  worker->CloseAll();
  EXPECT_EQ(worker->open(), 0u);
  EXPECT_EQ(Get(counters->open), 0u);
  EXPECT_EQ(Get(counters->closed), 100u);
  for (int peer : peers) {
    char c;
    EXPECT_EQ(read(peer, &c, 1), 0);
    close(peer);
  }
}

class ListeningTest : public EchoWorkerTest {
 protected:
  void SetUp() override {
    auto listeners = OpenListeners({*ParseEndpoint("127.0.0.1:0", true)}, ListenerOptions{});
    ASSERT_TRUE(listeners.ok()) << listeners.status();
    listeners_ = *listeners;
    kick_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(kick_fd_, 0);
  }
  void TearDown() override {
    for (int fd : clients_) close(fd);
    CloseListeners(listeners_);
    close(kick_fd_);
  }

  // A blocking connect completes as soon as the kernel queues the
  // connection, accepted or not.
  void Connect(int n) {
    sockaddr_storage address{};
    socklen_t length = listeners_[0].bound.ToSockaddr(&address);
    for (int i = 0; i < n; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), length), 0) << strerror(errno);
      clients_.push_back(fd);
    }
  }

  void RunAll(const std::vector<EchoWorker*>& workers, int rounds = 5) {
    for (int i = 0; i < rounds; ++i) {
      for (EchoWorker* worker : workers) ASSERT_TRUE(worker->RunOnce(absl::Milliseconds(5)).ok());
    }
  }

  std::vector<Listener> listeners_;
  std::vector<int> clients_;
  int kick_fd_ = -1;
};

TEST_F(ListeningTest, WorkerAtItsBudgetStopsAcceptingAndAnotherTakesTheRest) {
  WorkerCounters* small_counters = NewCounters();
  WorkerCounters* large_counters = NewCounters();
  EchoWorkerOptions small_options;
  small_options.max_connections = 2;
  EchoWorkerOptions large_options;
  large_options.max_connections = 10;
  auto small = NewWorker(small_counters, small_options, {listeners_[0].fd}, kick_fd_);
  auto large = NewWorker(large_counters, large_options, {listeners_[0].fd}, kick_fd_);

  Connect(6);
  // The small worker goes first and would take all six if it could.
  RunAll({small.get()}, 2);
  EXPECT_EQ(small->open(), 2u);
  EXPECT_FALSE(small->accepting());
  RunAll({large.get()}, 2);
  EXPECT_EQ(large->open(), 4u);
  EXPECT_TRUE(large->accepting());
  EXPECT_EQ(Get(small_counters->accepted) + Get(large_counters->accepted), 6u);
  // The stop is counted: the target ran out of its budget, not the network.
  EXPECT_GE(Get(small_counters->at_capacity), 1u);
  EXPECT_EQ(Get(large_counters->at_capacity), 0u);

  // Once every connection closes, the small worker has room and accepts again.
  for (int fd : clients_) close(fd);
  clients_.clear();
  RunAll({small.get(), large.get()});
  EXPECT_EQ(small->open() + large->open(), 0u);
  EXPECT_TRUE(small->accepting());
  Connect(1);
  RunAll({small.get(), large.get()});
  EXPECT_EQ(small->open() + large->open(), 1u);
}

TEST_F(ListeningTest, QueuedConnectionsWaitOnlyWhileEveryWorkerIsFull) {
  WorkerCounters* counters_a = NewCounters();
  WorkerCounters* counters_b = NewCounters();
  EchoWorkerOptions options;
  options.max_connections = 2;
  auto a = NewWorker(counters_a, options, {listeners_[0].fd}, kick_fd_);
  auto b = NewWorker(counters_b, options, {listeners_[0].fd}, kick_fd_);

  Connect(5);
  RunAll({a.get(), b.get()});
  EXPECT_EQ(a->open(), 2u);
  EXPECT_EQ(b->open(), 2u);
  EXPECT_FALSE(a->accepting());
  EXPECT_FALSE(b->accepting());

  // Freeing one slot anywhere lets the fifth in without any new arrival.
  // Which worker holds clients_[0] is unknown; closing it frees a slot in one.
  close(clients_[0]);
  clients_.erase(clients_.begin());
  RunAll({a.get(), b.get()});
  EXPECT_EQ(a->open() + b->open(), 4u);
  EXPECT_EQ(Get(counters_a->accepted) + Get(counters_b->accepted), 5u);
}

TEST_F(ListeningTest, ResourceErrorIsCountedAndBacksOffInsteadOfSpinning) {
  WorkerCounters* counters = NewCounters();
  EchoWorkerOptions options;
  options.max_connections = 100;
  options.accept_backoff = absl::Milliseconds(50);
  auto worker = NewWorker(counters, options, {listeners_[0].fd}, kick_fd_);
  Connect(2);

  // No descriptor free below the soft limit: accept4 fails with EMFILE.
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  absl::Status status = worker->RunOnce(absl::Milliseconds(20));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(status.ok()) << status;

  EXPECT_EQ(Get(counters->accept_errors[EMFILE]), 1u) << "one attempt, then back off";
  EXPECT_FALSE(worker->accepting());
  EXPECT_EQ(worker->open(), 0u);

  // After the back-off the listener is watched again; both get accepted.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (worker->open() < 2 && absl::Now() < deadline) {
    ASSERT_TRUE(worker->RunOnce(absl::Milliseconds(10)).ok());
  }
  EXPECT_EQ(worker->open(), 2u);
  EXPECT_TRUE(worker->accepting());
  EXPECT_EQ(Get(counters->accept_errors[EMFILE]), 1u);
}

// --listen-protocol=websocket: the upgrade, then frames split anywhere
// (head, frame headers, masks, payloads, control frames), echoed unmasked.
std::string ClientFrame(uint8_t first_byte, const std::string& payload, uint32_t mask) {
  char header[ws::kMaxFrameHeaderBytes];
  const size_t n = ws::WriteFrameHeader(header, first_byte & 0x0F, payload.size(), true, mask);
  header[0] = static_cast<char>(first_byte);
  std::string body = payload;
  ws::ApplyMask(body.data(), body.size(), mask, 0);
  return std::string(header, n) + body;
}

std::string ServerFrame(uint8_t first_byte, const std::string& payload) {
  char header[ws::kMaxFrameHeaderBytes];
  const size_t n = ws::WriteFrameHeader(header, first_byte & 0x0F, payload.size(), false, 0);
  header[0] = static_cast<char>(first_byte);
  return std::string(header, n) + payload;
}

TEST_F(EchoWorkerTest, WebSocketFramesSplitAnywhereComeBackWhole) {
  WorkerCounters* counters = NewCounters();
  EchoWorkerOptions options;
  options.websocket = true;
  auto worker = NewWorker(counters, options);
  int fds[2];
  SocketPair(fds);
  ASSERT_TRUE(worker->AddConnection(fds[0]).ok());
  const std::string request =
      "GET /anything HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, other\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  const std::string big(70000, 'b');
  const std::string stream = request + ClientFrame(0x82, "binary payload", 0x11223344) +
                             ClientFrame(0x89, "ping!", 0x55667788) + ClientFrame(0x01, "frag", 0x01020304) +
                             ClientFrame(0x80, "ment", 0x0A0B0C0D) + ClientFrame(0x82, big, 0xDEADBEEF) +
                             ClientFrame(0x8A, "", 0x01010101) + ClientFrame(0x81, "text", 0x99999999);
  const std::string expected =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n" +
      ServerFrame(0x82, "binary payload") + ServerFrame(0x8A, "ping!") + ServerFrame(0x01, "frag") +
      ServerFrame(0x80, "ment") + ServerFrame(0x82, big) + ServerFrame(0x81, "text");
  // Written in pieces of 1, 2, 3, ... bytes: every boundary falls somewhere odd.
  std::string got;
  size_t at = 0, piece = 1;
  while (at < stream.size()) {
    const size_t n = std::min(piece++ % 4096, stream.size() - at);
    ASSERT_EQ(write(fds[1], stream.data() + at, n), static_cast<ssize_t>(n));
    at += n;
    ASSERT_TRUE(worker->RunOnce(absl::ZeroDuration()).ok());
    char buffer[65536];
    ssize_t r;
    while ((r = read(fds[1], buffer, sizeof buffer)) > 0) got.append(buffer, static_cast<size_t>(r));
  }
  got += ReadEcho(*worker, fds[1], expected.size() - got.size());
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << got.substr(0, 300);

  // A close is answered with its status code, and the server hangs up.
  const std::string close_frame = ClientFrame(0x88, "\x03\xe8", 0x12345678);
  ASSERT_EQ(write(fds[1], close_frame.data(), close_frame.size()), static_cast<ssize_t>(close_frame.size()));
  EXPECT_EQ(ReadEcho(*worker, fds[1], 4), ServerFrame(0x88, "\x03\xe8"));
  EXPECT_EQ(worker->open(), 0u);
  close(fds[1]);
}

TEST_F(EchoWorkerTest, WebSocketRefusesWhatIsNotAnUpgradeOrUnmasked) {
  WorkerCounters* counters = NewCounters();
  EchoWorkerOptions options;
  options.websocket = true;
  auto worker = NewWorker(counters, options);
  int plain[2], unmasked[2];
  SocketPair(plain);
  SocketPair(unmasked);
  ASSERT_TRUE(worker->AddConnection(plain[0]).ok());
  ASSERT_TRUE(worker->AddConnection(unmasked[0]).ok());
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(plain[1], get.data(), get.size()), static_cast<ssize_t>(get.size()));
  EXPECT_EQ(ReadEcho(*worker, plain[1], 12).substr(0, 12), "HTTP/1.1 400");
  const std::string request =
      "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" +
      ServerFrame(0x82, "not masked");
  ASSERT_EQ(write(unmasked[1], request.data(), request.size()), static_cast<ssize_t>(request.size()));
  const std::string got = ReadEcho(*worker, unmasked[1], 133);
  EXPECT_NE(got.find(std::string("\x88\x02\x03\xea", 4)), std::string::npos) << got;
  EXPECT_EQ(worker->open(), 0u);
  close(plain[1]);
  close(unmasked[1]);
}

}  // namespace
}  // namespace fourtuple::target_server
