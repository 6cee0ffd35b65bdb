// The connection engine against real sockets on loopback: an echo server
// thread in this process (agent/test_echo_server.h) and the engine's loop
// driven by the test through RunOnce().
#include "agent/worker/connection_engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/assignment_validation.h"
#include "agent/worker/failure_samples.h"
#include "common/failure_reason.h"
#include "gtest/gtest.h"
#include "tests/support/test_echo_server.h"

namespace fourtuple::agent {
namespace {

using testing::TestEchoServer;

// Whatever the front accepts, the engine must accept too.

uint64_t Load(const std::atomic<uint64_t>& counter) { return counter.load(std::memory_order_relaxed); }

struct StartOptions {
  std::vector<std::string> targets;
  std::vector<std::string> sources = {"127.0.1.1", "127.0.1.2", "127.0.1.3", "127.0.1.4"};
  uint64_t first_connection = 0;
  uint64_t connections = 100;
  double connect_rate = 0;
  double echo_rate = 0;
  uint32_t max_in_flight = 256;
  uint32_t payload_bytes = 64;
  std::string send;  // echo.send / echo.expect (then payload_bytes is 0)
  std::string expect;
  bool templates = false;  // send/expect are {id} templates
  uint64_t connect_timeout_ms = 5000;
  uint64_t echo_timeout_ms = 5000;
  uint32_t agent_index = 3;
};

v1::WorkerStart MakeStart(const StartOptions& o) {
  v1::WorkerStart start;
  v1::Assignment* a = start.mutable_assignment();
  a->set_run_id("test");
  a->set_agent_index(o.agent_index);
  for (const std::string& t : o.targets) a->add_targets(t);
  for (const std::string& s : o.sources) a->add_source_addresses(s);
  a->set_connections(o.connections);
  a->set_connect_timeout_ms(o.connect_timeout_ms);
  a->set_payload_bytes(o.payload_bytes);
  a->set_echo_send(o.send);
  a->set_echo_expect(o.expect);
  a->set_echo_templates(o.templates);
  a->set_echo_timeout_ms(o.echo_timeout_ms);
  start.set_first_connection(o.first_connection);
  start.set_connections(o.connections);
  start.set_connect_rate(o.connect_rate);
  start.set_echo_rate(o.echo_rate);
  start.set_max_in_flight(o.max_in_flight);
  return start;
}

// A loopback port with a bound socket that does not listen: connects to it
// are refused, and nothing else can take the port while the test runs.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t length = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 protected:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A listener that never accepts, with the smallest accept queue: once it is
// full, SYNs are dropped (tcp_abort_on_overflow=0), so connects hang.
class FullBacklogPort : public RefusingPort {
 public:
  FullBacklogPort() { listen(fd_, 0); }
};

// Time that moves only when the test says: timeouts and pacing are checked
// to the tick, not against the wall clock.
class FakeClock final : public EngineClock {
 public:
  uint64_t NowNanos() const override { return now_ns_; }
  void Advance(absl::Duration by) { now_ns_ += static_cast<uint64_t>(absl::ToInt64Nanoseconds(by)); }

 private:
  uint64_t now_ns_ = 1'000'000'000'000;  // any epoch
};

class ConnectionEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { CreateEngine(nullptr); }

  // The engine reads clock_ from now on (its time starts at 0 there).
  void UseFakeClock() { CreateEngine(&clock_); }
  void CreateEngine(const EngineClock* clock) {
    engine_.reset();
    shared_ = std::make_unique<AgentWorkerShared>();
    absl::StatusOr<std::unique_ptr<ConnectionEngine>> engine =
        ConnectionEngine::Create(shared_.get(), SourcePorts::kKernel, clock);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }
  // Moves the fake clock on and runs one turn of the loop without waiting.
  void AdvanceAndRun(absl::Duration by) {
    clock_.Advance(by);
    absl::StatusOr<uint32_t> ready = engine_->RunOnce(0);
    EXPECT_TRUE(ready.ok()) << ready.status();
    max_in_flight_seen_ = std::max(max_in_flight_seen_, engine_->in_flight());
  }
  // Lets the sockets' events (which come on the wall clock) arrive while the
  // fake clock stands still.
  void Settle() {
    RunUntil([] { return false; }, absl::Milliseconds(50));
  }

  // Spins the loop until `done` or the timeout; tracks the largest number of
  // connects and echoes seen pending at once.
  bool RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::StatusOr<uint32_t> ready = engine_->RunOnce(5);
      EXPECT_TRUE(ready.ok()) << ready.status();
      max_in_flight_seen_ = std::max(max_in_flight_seen_, engine_->in_flight());
      max_echoes_seen_ = std::max(max_echoes_seen_, engine_->echo_outstanding());
    }
    return true;
  }
  bool RunUntilPhase(WorkerPhase phase, absl::Duration timeout = absl::Seconds(20)) {
    return RunUntil([&] { return engine_->phase() == phase; }, timeout);
  }
  bool RunUntilRoundDone(uint32_t round, absl::Duration timeout = absl::Seconds(20)) {
    return RunUntil([&] { return shared_->echo_rounds_done.load() == round && !Echoing(); }, timeout);
  }
  bool Echoing() const { return engine_->phase() == WorkerPhase::kEchoing; }

  uint64_t Failures(int reason) const { return Load(shared_->failures[ReasonCode(reason)]); }
  uint64_t TotalFailures() const {
    uint64_t sum = 0;
    for (const auto& counter : shared_->failures) sum += Load(counter);
    return sum;
  }

  // Starts `o` and ramps to kConnected.
  void Connect(const StartOptions& o) {
    ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
    ASSERT_TRUE(engine_->BeginConnect().ok());
    ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected)) << "established " << Load(shared_->established);
  }

  // Round 1 against a server holding back all but the first bytes of each
  // reply until Release: until then every echo stays outstanding, undecided.
  void EchoWithTheReplyInTwoPieces(TestEchoServer& server) {
    ASSERT_TRUE(engine_->BeginEcho(1).ok());
    RunUntil([] { return false; }, absl::Milliseconds(300));
    EXPECT_EQ(engine_->echo_outstanding(), Load(shared_->open));
    EXPECT_EQ(Load(shared_->echo_verified) + Load(shared_->echo_mismatched) + Load(shared_->failed), 0u);
    server.Release();
    ASSERT_TRUE(RunUntilRoundDone(1));
  }

  FakeClock clock_;
  std::unique_ptr<AgentWorkerShared> shared_;
  std::unique_ptr<ConnectionEngine> engine_;
  uint64_t max_in_flight_seen_ = 0;
  uint64_t max_echoes_seen_ = 0;
};

TEST_F(ConnectionEngineTest, OpensEchoesTwoRoundsAndCloses) {
  TestEchoServer server(/*ports=*/2);
  StartOptions o;
  o.targets = {server.endpoint(0), server.endpoint(1)};
  o.first_connection = 1000;  // a slice that does not start at 0
  o.connections = 3000;
  o.max_in_flight = 256;
  o.payload_bytes = 100;
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  EXPECT_EQ(engine_->phase(), WorkerPhase::kReady);
  ASSERT_TRUE(engine_->BeginConnect().ok());
  EXPECT_EQ(engine_->phase(), WorkerPhase::kConnecting);
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));

  EXPECT_EQ(Load(shared_->attempted), 3000u);
  EXPECT_EQ(Load(shared_->established), 3000u);
  EXPECT_EQ(Load(shared_->open), 3000u);
  EXPECT_EQ(Load(shared_->in_flight), 0u);
  EXPECT_EQ(Load(shared_->failed), 0u);
  EXPECT_EQ(TotalFailures(), 0u);
  // ids 1000..3999 over 4 sources x 2 targets: 750 per source.
  // Its window is every source, from ordinal (1000 / 2) mod 4 = 0.
  EXPECT_EQ(Load(shared_->source_window_first), 0u);
  EXPECT_EQ(Load(shared_->source_window_length), 4u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(shared_->source_counts[s].established.load(), 750u) << s;
  EXPECT_EQ(Load(shared_->connect_latency.count), 3000u);
  EXPECT_GT(Load(shared_->connect_latency.sum_us), 0u);
  EXPECT_LE(max_in_flight_seen_, 256u);
  EXPECT_GT(max_in_flight_seen_, 0u);
  ASSERT_TRUE(RunUntil([&] { return server.open() == 3000; }));

  for (uint32_t round = 1; round <= 2; ++round) {
    ASSERT_TRUE(engine_->BeginEcho(round).ok());
    EXPECT_EQ(engine_->phase(), WorkerPhase::kEchoing);
    EXPECT_EQ(shared_->echo_round.load(), round);
    ASSERT_TRUE(RunUntilRoundDone(round)) << "verified " << Load(shared_->echo_verified);
    EXPECT_EQ(engine_->phase(), WorkerPhase::kConnected);
    EXPECT_EQ(Load(shared_->echo_sent), 3000u * round);
    EXPECT_EQ(Load(shared_->echo_verified), 3000u * round);
    EXPECT_EQ(Load(shared_->echo_rtt.count), 3000u * round);
  }
  EXPECT_EQ(Load(shared_->echo_mismatched), 0u);
  EXPECT_EQ(Load(shared_->echo_timed_out), 0u);
  EXPECT_EQ(Load(shared_->echo_closed), 0u);
  EXPECT_LE(max_echoes_seen_, 256u);  // a steady stream, not 3000 at once
  EXPECT_GT(max_echoes_seen_, 0u);
  EXPECT_EQ(Load(shared_->open), 3000u);

  engine_->CloseAll();
  EXPECT_EQ(engine_->phase(), WorkerPhase::kClosed);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Load(shared_->closed_by_peer), 0u);
  // The server sees every connection go (reset: no TIME_WAIT on our side).
  ASSERT_TRUE(RunUntil([&] { return server.open() == 0; })) << server.open();
}

TEST_F(ConnectionEngineTest, LargestPayloadIsVerified) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 300;
  o.payload_bytes = kMaxPayloadBytes;
  Connect(o);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_verified), 300u);
  EXPECT_EQ(Load(shared_->echo_mismatched), 0u);
}

TEST_F(ConnectionEngineTest, RefusedConnectsAreCountedByErrno) {
  RefusingPort port;
  StartOptions o;
  o.targets = {port.endpoint()};
  o.connections = 200;
  o.max_in_flight = 32;
  Connect(o);
  EXPECT_EQ(Load(shared_->attempted), 200u);
  EXPECT_EQ(Load(shared_->established), 0u);
  EXPECT_EQ(Load(shared_->failed), 200u);
  EXPECT_EQ(Failures(ECONNREFUSED), 200u);
  EXPECT_EQ(TotalFailures(), 200u);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Load(shared_->connect_latency.count), 0u);
}

TEST_F(ConnectionEngineTest, ConnectTimeoutWhenTheAcceptQueueIsFull) {
  UseFakeClock();
  FullBacklogPort port;
  StartOptions o;
  o.targets = {port.endpoint()};
  o.connections = 24;
  o.max_in_flight = 8;
  o.connect_timeout_ms = 300;
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  // Three waves of 8 (the cap): each connect pending at the wave's start
  // times out exactly 300 ms later, not a tick sooner, and the next wave
  // starts then.
  for (int wave = 1; wave <= 3; ++wave) {
    Settle();
    ASSERT_EQ(engine_->phase(), WorkerPhase::kConnecting) << "wave " << wave;
    const uint64_t pending = engine_->in_flight();
    const uint64_t timed_out = Failures(kReasonConnectTimeout);
    EXPECT_GT(pending, 0u) << "wave " << wave;
    AdvanceAndRun(absl::Milliseconds(299));
    EXPECT_EQ(Failures(kReasonConnectTimeout), timed_out) << "wave " << wave;
    AdvanceAndRun(absl::Milliseconds(1));
    EXPECT_EQ(Failures(kReasonConnectTimeout), timed_out + pending) << "wave " << wave;
  }
  EXPECT_EQ(engine_->phase(), WorkerPhase::kConnected);
  // The queue holds one connection; every other SYN is dropped.
  uint64_t established = Load(shared_->established);
  EXPECT_LE(established, 2u);
  EXPECT_EQ(Failures(kReasonConnectTimeout) + established, 24u);
  EXPECT_EQ(Load(shared_->failed), 24u - established);
  EXPECT_EQ(max_in_flight_seen_, 8u);  // the in-flight cap held the rest back
}

TEST_F(ConnectionEngineTest, RateLimitSpacesConnects) {
  UseFakeClock();
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 150;
  o.connect_rate = 500;
  o.max_in_flight = 1000;
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  // One connect at once, then one every 2 ms: 149 intervals.
  EXPECT_EQ(Load(shared_->attempted), 1u);
  for (uint64_t ms = 1; ms <= 298; ++ms) {
    AdvanceAndRun(absl::Milliseconds(1));
    ASSERT_EQ(Load(shared_->attempted), 1 + ms / 2) << "at " << ms << " ms";
  }
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));
  EXPECT_EQ(Load(shared_->established), 150u);
}

// Histogram percentile of a worker's shared histogram.
uint64_t PercentileUs(const SharedHistogram& shared, double q) {
  Histogram h;
  h.Add(shared);
  return h.PercentileUs(q);
}

TEST_F(ConnectionEngineTest, ALateLoopBanksAtMostAMillisecondOfConnects) {
  UseFakeClock();
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 200;
  o.connect_rate = 10'000;  // one every 100 us
  o.max_in_flight = 1000;
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  EXPECT_EQ(Load(shared_->attempted), 1u);
  // The loop wakes 20 ms late: only one millisecond's worth (10) leaves at
  // once, not the 200 that 20 ms would allow; the rest follow at the rate.
  AdvanceAndRun(absl::Milliseconds(20));
  EXPECT_EQ(Load(shared_->attempted), 1u + 10u);
  AdvanceAndRun(absl::Microseconds(100));
  EXPECT_EQ(Load(shared_->attempted), 12u);
  // Those that left late waited in our queue: about 19 ms at worst.
  EXPECT_GE(Load(shared_->connect_queue.max_us), 18'000u);
  EXPECT_EQ(Load(shared_->connect_queue.count), 12u);
  ASSERT_TRUE(RunUntil([&] {
    clock_.Advance(absl::Microseconds(100));
    return engine_->phase() == WorkerPhase::kConnected;
  }));
  EXPECT_EQ(Load(shared_->established), 200u);
}

TEST_F(ConnectionEngineTest, ConnectsLeaveEvenlyOnTheWallClock) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 2000;
  o.connect_rate = 10'000;  // 100 us apart: finer than any millisecond timeout
  o.max_in_flight = 2000;
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));
  EXPECT_EQ(Load(shared_->established), 2000u);
  // The gaps between connect() calls, from the engine's own stamps. Paced in
  // batches of a millisecond's worth (ten), never more: the 2,000 connects
  // span the 200 ms the rate asks for, not a few clumps sent early, and no
  // gap inside the ramp reaches the ~20 ms a stall or a coarse timer would
  // leave.
  ASSERT_EQ(Load(shared_->connect_gap.count), 1999u);
  EXPECT_GE(Load(shared_->connect_gap.sum_us), 190'000u);
  EXPECT_LE(PercentileUs(shared_->connect_gap, 0.5), 1'000u);
  EXPECT_LE(PercentileUs(shared_->connect_gap, 0.99), 20'000u);
}

TEST_F(ConnectionEngineTest, EchoRoundsFollowTheirRate) {
  UseFakeClock();
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 100;
  o.echo_rate = 1000;  // one echo per ms
  Connect(o);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  EXPECT_EQ(Load(shared_->echo_sent), 1u);
  for (int ms = 1; ms <= 10; ++ms) AdvanceAndRun(absl::Milliseconds(1));
  EXPECT_EQ(Load(shared_->echo_sent), 11u);
  ASSERT_TRUE(RunUntil([&] {
    clock_.Advance(absl::Milliseconds(1));
    return shared_->echo_rounds_done.load() == 1;
  }));
  EXPECT_EQ(Load(shared_->echo_verified), 100u);
}

TEST_F(ConnectionEngineTest, PeerCloseWhileIdleIsCounted) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 500;
  Connect(o);
  ASSERT_TRUE(RunUntil([&] { return server.open() == 500; }));
  server.CloseConnections(/*reset=*/false);
  ASSERT_TRUE(RunUntil([&] { return Load(shared_->open) == 0; })) << Load(shared_->open);
  EXPECT_EQ(Load(shared_->closed_by_peer), 500u);
  EXPECT_EQ(Failures(kReasonPeerClosed), 500u);
  EXPECT_EQ(Load(shared_->failed), 500u);
  EXPECT_EQ(Load(shared_->established), 500u);
}

TEST_F(ConnectionEngineTest, PeerResetWhileIdleIsCountedByErrno) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 500;
  Connect(o);
  ASSERT_TRUE(RunUntil([&] { return server.open() == 500; }));
  server.CloseConnections(/*reset=*/true);
  ASSERT_TRUE(RunUntil([&] { return Load(shared_->open) == 0; })) << Load(shared_->open);
  EXPECT_EQ(Load(shared_->closed_by_peer), 500u);
  EXPECT_EQ(Failures(ECONNRESET), 500u);
  EXPECT_EQ(TotalFailures(), 500u);
}

TEST_F(ConnectionEngineTest, ServerClosingAtAcceptIsSeen) {
  TestEchoServer server;
  server.SetMode(TestEchoServer::Mode::kCloseOnAccept);
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 200;
  Connect(o);
  ASSERT_TRUE(RunUntil([&] { return Load(shared_->closed_by_peer) == 200; }));
  EXPECT_EQ(Load(shared_->established), 200u);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Failures(kReasonPeerClosed), 200u);
}

TEST_F(ConnectionEngineTest, MismatchedEchoIsCountedAndClosed) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 300;
  Connect(o);
  server.SetMode(TestEchoServer::Mode::kCorrupt);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_mismatched), 300u);
  EXPECT_EQ(Load(shared_->echo_verified), 0u);
  EXPECT_EQ(Failures(kReasonEchoMismatch), 300u);
  EXPECT_EQ(Load(shared_->failed), 300u);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Load(shared_->closed_by_peer), 0u);  // we closed them
  ASSERT_TRUE(RunUntil([&] { return server.open() == 0; }));
}

TEST_F(ConnectionEngineTest, EchoTimeoutKeepsTheConnectionAndSkipsTheLateReply) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 200;
  o.echo_timeout_ms = 1000;
  o.payload_bytes = 40;
  UseFakeClock();
  Connect(o);
  server.SetMode(TestEchoServer::Mode::kHold);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  Settle();
  AdvanceAndRun(absl::Milliseconds(999));
  EXPECT_EQ(Load(shared_->echo_timed_out), 0u);
  EXPECT_EQ(engine_->echo_outstanding(), 200u);
  AdvanceAndRun(absl::Milliseconds(1));  // the timeout, to the tick
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_timed_out), 200u);
  EXPECT_EQ(Failures(kReasonEchoTimeout), 200u);
  EXPECT_EQ(Load(shared_->open), 200u);

  // Round 2 goes out while round 1's replies are still held; then the server
  // sends both. Each connection must discard round 1's bytes and verify its
  // round 2 payload.
  ASSERT_TRUE(engine_->BeginEcho(2).ok());
  server.Release();
  ASSERT_TRUE(RunUntilRoundDone(2));
  EXPECT_EQ(Load(shared_->echo_verified), 200u);
  EXPECT_EQ(Load(shared_->echo_mismatched), 0u);
  ASSERT_TRUE(engine_->BeginEcho(3).ok());
  ASSERT_TRUE(RunUntilRoundDone(3));
  EXPECT_EQ(Load(shared_->echo_verified), 400u);
  // A connection fails once: the timeout, not again later.
  EXPECT_EQ(Load(shared_->failed), 200u);
  EXPECT_EQ(TotalFailures(), 200u);
  EXPECT_EQ(Load(shared_->open), 200u);
}

// ---------------------------------------------------- echo.send / echo.expect

// A Redis-like exchange: "PING\r\n" must be answered by exactly "+PONG\r\n".
StartOptions PingPong(const TestEchoServer& server, uint64_t connections) {
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = connections;
  o.payload_bytes = 0;
  o.send = "PING\r\n";
  o.expect = "+PONG\r\n";
  return o;
}

TEST_F(ConnectionEngineTest, SendExpectVerifiesEveryRound) {
  TestEchoServer server;
  // The server closes any connection whose bytes are not exactly the request.
  server.SetReply("PING\r\n", "+PONG\r\n");
  Connect(PingPong(server, 300));
  for (uint32_t round = 1; round <= 2; ++round) {
    ASSERT_TRUE(engine_->BeginEcho(round).ok());
    ASSERT_TRUE(RunUntilRoundDone(round));
  }
  EXPECT_EQ(Load(shared_->echo_sent), 600u);
  EXPECT_EQ(Load(shared_->echo_verified), 600u);
  EXPECT_EQ(Load(shared_->echo_rtt.count), 600u);
  EXPECT_EQ(TotalFailures(), 0u);
  EXPECT_EQ(Load(shared_->open), 300u);
  EXPECT_EQ(server.open(), 300u);
}

TEST_F(ConnectionEngineTest, SendExpectMatchesAReplyArrivingInPieces) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "+PONG\r\n", /*hold_from=*/3);  // "+PO" now, "NG\r\n" on Release
  Connect(PingPong(server, 200));
  EchoWithTheReplyInTwoPieces(server);
  EXPECT_EQ(Load(shared_->echo_verified), 200u);
  EXPECT_EQ(TotalFailures(), 0u);
  EXPECT_EQ(Load(shared_->open), 200u);
}

TEST_F(ConnectionEngineTest, SendExpectWrongReplyIsAMismatch) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "-ERR unknown command\r\n");
  Connect(PingPong(server, 300));
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_mismatched), 300u);
  EXPECT_EQ(Load(shared_->echo_verified), 0u);
  EXPECT_EQ(Failures(kReasonEchoMismatch), 300u);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Load(shared_->closed_by_peer), 0u);  // we closed them
}

TEST_F(ConnectionEngineTest, SendExpectMismatchAfterAMatchingPrefix) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "+PONX\r\n", /*hold_from=*/3);  // "+PO" matches, "X" does not
  Connect(PingPong(server, 200));
  EchoWithTheReplyInTwoPieces(server);
  EXPECT_EQ(Load(shared_->echo_mismatched), 200u);
  EXPECT_EQ(Failures(kReasonEchoMismatch), 200u);
  EXPECT_EQ(Load(shared_->open), 0u);
  // The sample is the reply from its start: the matched "+PO" included.
  std::map<std::string, std::string> samples;
  ReadFailureSamples(*shared_, &samples);
  EXPECT_EQ(samples["echo_mismatch"], "+PONX\r\n");
}

TEST_F(ConnectionEngineTest, WrongReplyIsKeptAsTheFailureSample) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "-ERR unknown command\r\n");
  Connect(PingPong(server, 50));
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  std::map<std::string, std::string> samples;
  ReadFailureSamples(*shared_, &samples);
  EXPECT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples["echo_mismatch"], "-ERR unknown command\r\n");
}

// "{id}" in echo.send and echo.expect: each connection sends its own id and
// an echo server returns it, so each connection's reply matches its own.
TEST_F(ConnectionEngineTest, TemplatedSendExpectCarriesEachConnectionsId) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 300;
  o.payload_bytes = 0;
  o.send = "GET {id}\r\n";
  o.expect = "GET {id}\r\n";
  o.templates = true;
  Connect(o);
  for (uint32_t round = 1; round <= 2; ++round) {
    ASSERT_TRUE(engine_->BeginEcho(round).ok());
    ASSERT_TRUE(RunUntilRoundDone(round));
  }
  EXPECT_EQ(Load(shared_->echo_verified), 600u);
  EXPECT_EQ(TotalFailures(), 0u);

  // A reply with another connection's id is a mismatch: every connection
  // sends connection 0's id, and only connection 0 gets its own back.
  CreateEngine(nullptr);
  o.expect = "GET {id}\r\n";
  o.send = "GET 0000030000000000\r\n";  // agent 3, connection 0's id, sent by every connection
  o.templates = true;
  Connect(o);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_verified), 1u);  // connection 0 only
  EXPECT_EQ(Failures(kReasonEchoMismatch), 299u);
}

TEST_F(ConnectionEngineTest, SendExpectReplyLongerThanExpectedFails) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "+PONG\r\n+PONG\r\n");
  Connect(PingPong(server, 200));
  // The surplus is data nobody asked for, even though it looks like a reply.
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Failures(kReasonEchoMismatch), 200u);
  EXPECT_EQ(TotalFailures(), 200u);
  EXPECT_EQ(Load(shared_->open), 0u);
}

TEST_F(ConnectionEngineTest, SendExpectTimeoutSkipsTheLateReply) {
  TestEchoServer server;
  server.SetReply("PING\r\n", "+PONG\r\n", /*hold_from=*/0);  // no reply until Release
  StartOptions o = PingPong(server, 200);
  o.echo_timeout_ms = 500;
  UseFakeClock();
  Connect(o);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  Settle();
  AdvanceAndRun(absl::Milliseconds(499));
  EXPECT_EQ(Load(shared_->echo_timed_out), 0u);
  AdvanceAndRun(absl::Milliseconds(1));
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_timed_out), 200u);
  EXPECT_EQ(Failures(kReasonEchoTimeout), 200u);
  EXPECT_EQ(Load(shared_->open), 200u);

  // Round 1's reply arrives late, before round 2's: it is discarded and
  // round 2 verified on its own reply.
  ASSERT_TRUE(engine_->BeginEcho(2).ok());
  server.Release();
  ASSERT_TRUE(RunUntilRoundDone(2));
  ASSERT_TRUE(engine_->BeginEcho(3).ok());
  ASSERT_TRUE(RunUntilRoundDone(3));
  EXPECT_EQ(Load(shared_->echo_verified), 400u);
  EXPECT_EQ(Load(shared_->echo_mismatched), 0u);
  EXPECT_EQ(TotalFailures(), 200u);  // the timeouts only
  EXPECT_EQ(Load(shared_->open), 200u);
}

TEST_F(ConnectionEngineTest, ServerClosingDuringEchoCountsEchoClosed) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 300;
  Connect(o);
  server.SetMode(TestEchoServer::Mode::kCloseOnData);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(RunUntilRoundDone(1));
  EXPECT_EQ(Load(shared_->echo_closed), 300u);
  EXPECT_EQ(Load(shared_->closed_by_peer), 300u);
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Failures(kReasonPeerClosed), 300u);
}

TEST_F(ConnectionEngineTest, EchoAskedForDuringARoundFollowsIt) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 500;
  o.max_in_flight = 50;
  Connect(o);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  ASSERT_TRUE(engine_->BeginEcho(2).ok());
  ASSERT_TRUE(RunUntilRoundDone(2));
  EXPECT_EQ(Load(shared_->echo_verified), 1000u);
  EXPECT_LE(max_echoes_seen_, 50u);
}

TEST_F(ConnectionEngineTest, ASecondStartBeginsFromZero) {
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 300;
  Connect(o);
  engine_->CloseAll();
  o.connections = 100;
  o.first_connection = 7;
  Connect(o);
  EXPECT_EQ(Load(shared_->attempted), 100u);
  EXPECT_EQ(Load(shared_->established), 100u);
  EXPECT_EQ(Load(shared_->open), 100u);
  EXPECT_EQ(Load(shared_->connect_latency.count), 100u);
  ASSERT_TRUE(RunUntil([&] { return server.open() == 100; }));
}

// Moves this (forked, single-threaded) process into a fresh network namespace
// with loopback up and the given sysctls (paths under /proc/sys/net/ipv4/)
// set there only. False when namespaces are not available.
bool EnterFreshNetns(const std::vector<std::pair<std::string, std::string>>& sysctls) {
  if (unshare(CLONE_NEWNET) != 0) return false;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) return false;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) return false;
  close(fd);
  for (const auto& [name, value] : sysctls) {
    FILE* file = std::fopen(("/proc/sys/net/ipv4/" + name).c_str(), "w");
    if (file == nullptr || std::fprintf(file, "%s\n", value.c_str()) < 0 || std::fclose(file) != 0)
      return false;
  }
  return true;
}

// Runs `child` in a forked process; its return value is the exit code:
// 0 = pass, 77 = skip (no namespace), anything else = fail.
void RunInChild(int (*child)()) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(child());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot create a network namespace here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Spins `engine` until `done` or 20 s.
void Spin(ConnectionEngine& engine, const std::function<bool()>& done) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done() && absl::Now() < deadline) (void)engine.RunOnce(5);
}

// A socket connected to itself (source = target address, the kernel picked
// the target's port as the source port) is refused, not counted as
// established. Made certain by an ephemeral range of the target port alone.
int SelfConnectChild() {
  if (!EnterFreshNetns({{"ip_local_port_range", "40000 40000"}})) return 77;
  AgentWorkerShared shared{};
  absl::StatusOr<std::unique_ptr<ConnectionEngine>> engine = ConnectionEngine::Create(&shared);
  if (!engine.ok()) return 2;
  StartOptions o;
  o.targets = {"127.0.0.1:40000"};
  o.sources = {"127.0.0.1"};
  o.connections = 1;
  if (!(*engine)->Start(MakeStart(o)).ok() || !(*engine)->BeginConnect().ok()) return 3;
  Spin(**engine, [&] { return (*engine)->phase() == WorkerPhase::kConnected; });
  bool refused = Load(shared.established) == 0 && Load(shared.failures[ECONNREFUSED]) == 1 &&
                 Load(shared.failed) == 1 && Load(shared.open) == 0;
  if (!refused) {
    std::fprintf(stderr, "self-connect: established %lu refused %lu failed %lu\n",
                 static_cast<unsigned long>(Load(shared.established)),
                 static_cast<unsigned long>(Load(shared.failures[ECONNREFUSED])),
                 static_cast<unsigned long>(Load(shared.failed)));
  }
  return refused ? 0 : 1;
}

// With send and receive buffers far smaller than the payload, writes are
// partial: the rest must go out from the connection's offset on EPOLLOUT.
int PartialWritesChild() {
  if (!EnterFreshNetns({{"tcp_wmem", "4096 4096 4096"}, {"tcp_rmem", "4096 4096 4096"}})) return 77;
  TestEchoServer server;
  AgentWorkerShared shared{};
  absl::StatusOr<std::unique_ptr<ConnectionEngine>> engine = ConnectionEngine::Create(&shared);
  if (!engine.ok()) return 2;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.sources = {"127.0.0.1"};
  o.connections = 50;
  o.payload_bytes = kMaxPayloadBytes;
  if (!(*engine)->Start(MakeStart(o)).ok() || !(*engine)->BeginConnect().ok()) return 3;
  Spin(**engine, [&] { return (*engine)->phase() == WorkerPhase::kConnected; });
  for (uint32_t round = 1; round <= 2; ++round) {
    if (!(*engine)->BeginEcho(round).ok()) return 4;
    Spin(**engine, [&] { return shared.echo_rounds_done.load() == round; });
  }
  bool verified = Load(shared.echo_verified) == 100 && Load(shared.failed) == 0;
  if (!verified) {
    std::fprintf(stderr, "partial writes: verified %lu of 100, failed %lu\n",
                 static_cast<unsigned long>(Load(shared.echo_verified)),
                 static_cast<unsigned long>(Load(shared.failed)));
  }
  return verified ? 0 : 1;
}

// A loopback listener on a free port; Accepted() takes every queued
// connection and returns the peers' (our) source ports, sorted.
class PeerPortListener : public RefusingPort {
 public:
  PeerPortListener() {
    listen(fd_, 64);
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);  // Accepted() stops at an empty queue
  }
  std::vector<uint16_t> Accepted() {
    std::vector<uint16_t> ports;
    for (;;) {
      sockaddr_in peer{};
      socklen_t length = sizeof peer;
      int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      ports.push_back(ntohs(peer.sin_port));
      accepted_.push_back(fd);
    }
    std::sort(ports.begin(), ports.end());
    return ports;
  }
  ~PeerPortListener() {
    for (int fd : accepted_) close(fd);
  }

 private:
  std::vector<int> accepted_;
};

// SourcePorts::kAgent: each (source, target) pair takes its ports in order
// from the low end of the namespace's range, a worker's cursor starts where
// its slice's connections fall, and a port another socket holds is skipped.
int AgentSourcePortsChild() {
  if (!EnterFreshNetns({{"ip_local_port_range", "20000 20999"}})) return 77;
  PeerPortListener targets[2];
  int foreign = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // holds 127.0.1.1:20002
  sockaddr_in taken{};
  taken.sin_family = AF_INET;
  taken.sin_port = htons(20002);
  inet_pton(AF_INET, "127.0.1.1", &taken.sin_addr);
  if (bind(foreign, reinterpret_cast<sockaddr*>(&taken), sizeof taken) != 0) return 2;

  // Two workers' slices of one agent: ids 0..7 and 10..13 over 1 source x 2
  // targets, so connection i is pair i % 2's (i / 2)-th.
  const std::vector<std::vector<uint16_t>> expected = {{20000, 20001, 20003, 20004, 20005, 20006},
                                                       {20000, 20001, 20003, 20004, 20005, 20006}};
  std::vector<std::unique_ptr<AgentWorkerShared>> shared;
  std::vector<std::unique_ptr<ConnectionEngine>> engines;
  for (auto [first, count] : {std::pair<uint64_t, uint64_t>{0, 8}, {10, 4}}) {
    shared.push_back(std::make_unique<AgentWorkerShared>());
    absl::StatusOr<std::unique_ptr<ConnectionEngine>> engine =
        ConnectionEngine::Create(shared.back().get(), SourcePorts::kAgent);
    if (!engine.ok()) return 3;
    StartOptions o;
    o.targets = {targets[0].endpoint(), targets[1].endpoint()};
    o.sources = {"127.0.1.1"};
    o.first_connection = first;
    o.connections = count;
    if (!(*engine)->Start(MakeStart(o)).ok() || !(*engine)->BeginConnect().ok()) return 4;
    Spin(**engine, [&] { return (*engine)->phase() == WorkerPhase::kConnected; });
    if (Load(shared.back()->established) != count || Load(shared.back()->failed) != 0) {
      std::fprintf(stderr, "agent ports: slice at %lu established %lu failed %lu\n",
                   static_cast<unsigned long>(first),
                   static_cast<unsigned long>(Load(shared.back()->established)),
                   static_cast<unsigned long>(Load(shared.back()->failed)));
      return 1;
    }
    engines.push_back(*std::move(engine));
  }
  int result = 0;
  for (int t = 0; t < 2; ++t) {
    std::vector<uint16_t> ports = targets[t].Accepted();
    if (ports != expected[t]) {
      std::string seen;
      for (uint16_t port : ports) seen += " " + std::to_string(port);
      std::fprintf(stderr, "agent ports: target %d saw source ports%s\n", t, seen.c_str());
      result = 1;
    }
  }
  close(foreign);
  return result;
}

TEST(NamespaceTest, ASocketConnectedToItselfIsRefused) { RunInChild(SelfConnectChild); }

TEST(NamespaceTest, AgentSourcePortsRunInOrderPerPairAndSkipTakenPorts) { RunInChild(AgentSourcePortsChild); }

TEST(NamespaceTest, PartialWritesResumeFromTheConnectionsOffset) { RunInChild(PartialWritesChild); }

TEST_F(ConnectionEngineTest, AnEmptySliceSettlesAtOnce) {
  StartOptions o;
  o.targets = {"127.0.0.1:9"};
  o.connections = 0;  // more workers than connections
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  EXPECT_EQ(engine_->phase(), WorkerPhase::kConnected);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  EXPECT_EQ(shared_->echo_rounds_done.load(), 1u);
  EXPECT_EQ(engine_->phase(), WorkerPhase::kConnected);
  EXPECT_EQ(Load(shared_->attempted), 0u);
}

TEST_F(ConnectionEngineTest, StartRefusesBadAssignments) {
  StartOptions good;
  good.targets = {"127.0.0.1:9"};
  ASSERT_TRUE(engine_->Start(MakeStart(good)).ok());

  struct Case {
    std::function<void(StartOptions&)> change;
    std::string expected;
  };
  std::vector<Case> cases = {
      {[](StartOptions& o) { o.targets.clear(); }, "assignment.targets"},
      {[](StartOptions& o) { o.targets = {"127.0.0.1"}; }, "assignment.targets[0]"},
      {[](StartOptions& o) { o.sources.clear(); }, "assignment.source_addresses"},
      {[](StartOptions& o) {
         o.sources = {"127.0.1.1", "127.0.1.300"};
       },
       "assignment.source_addresses[1]"},
      {[](StartOptions& o) { o.sources = {"::1"}; }, "family"},
      {[](StartOptions& o) { o.payload_bytes = 15; }, "payload_bytes"},
      {[](StartOptions& o) { o.payload_bytes = kMaxPayloadBytes + 1; }, "payload_bytes"},
      {[](StartOptions& o) { o.send = "PING"; }, "assignment.echo_expect: missing"},
      {[](StartOptions& o) {
         o.payload_bytes = 0;
         o.expect = "PONG";
       },
       "assignment.echo_send: missing"},
      {[](StartOptions& o) {
         o.send = "PING";
         o.expect = "PONG";
       },
       "assignment.payload_bytes: 64 with echo_send"},
      {[](StartOptions& o) {
         o.payload_bytes = 0;
         o.send = std::string(kMaxSendExpectBytes + 1, 'x');
         o.expect = "PONG";
       },
       "assignment.echo_send: 4097 bytes"},
      {[](StartOptions& o) { o.connect_timeout_ms = 0; }, "connect_timeout_ms"},
      {[](StartOptions& o) { o.echo_timeout_ms = kMaxTimeoutMs + 1; }, "echo_timeout_ms"},
      {[](StartOptions& o) { o.max_in_flight = 0; }, "max_in_flight"},
      {[](StartOptions& o) { o.connect_rate = -1; }, "connect_rate"},
      {[](StartOptions& o) { o.connections = kMaxWorkerConnections + 1; }, "exceeds"},
  };
  for (const Case& c : cases) {
    StartOptions o = good;
    c.change(o);
    absl::Status status = engine_->Start(MakeStart(o));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_NE(status.message().find(c.expected), absl::string_view::npos) << status;
  }
}

TEST_F(ConnectionEngineTest, CommandsOutOfOrderAreRefused) {
  EXPECT_EQ(engine_->BeginConnect().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->BeginEcho(1).code(), absl::StatusCode::kFailedPrecondition);
  StartOptions o;
  o.targets = {"127.0.0.1:9"};
  ASSERT_TRUE(engine_->Start(MakeStart(o)).ok());
  EXPECT_EQ(engine_->BeginEcho(1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine_->BeginEcho(0).code(), absl::StatusCode::kInvalidArgument);
  engine_->CloseAll();
  EXPECT_EQ(engine_->BeginConnect().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConnectionEngineTest, FailWritesTheErrorIntoTheSharedBlock) {
  engine_->Fail("something broke");
  EXPECT_EQ(engine_->phase(), WorkerPhase::kFailed);
  EXPECT_EQ(shared_->error_set.load(), 1u);
  EXPECT_STREQ(shared_->error, "something broke");
  engine_->Fail(std::string(1000, 'x'));  // truncated, still terminated
  EXPECT_EQ(std::string(shared_->error).size(), sizeof shared_->error - 1);
}

// ------------------------------------------------------------ load models

// Connections the server closes are reopened after their backoff (on the
// engine's clock, from the timer wheel), counted as drops and reconnects,
// not as failures, and their recovery time recorded.
TEST_F(ConnectionEngineTest, ReconnectsDroppedConnectionsAfterTheBackoff) {
  UseFakeClock();
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 20;
  v1::WorkerStart start = MakeStart(o);
  v1::ReconnectSettings* reconnect = start.mutable_assignment()->mutable_reconnect();
  reconnect->set_initial_backoff_ms(200);
  reconnect->set_max_backoff_ms(200);
  reconnect->set_jitter(false);
  ASSERT_TRUE(engine_->Start(start).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));
  ASSERT_EQ(Load(shared_->open), 20u);

  server.SetMode(TestEchoServer::Mode::kCloseOnData);
  ASSERT_TRUE(engine_->BeginEcho(1).ok());
  RunUntil([&] { return Load(shared_->reopen.drops) == 20; });
  EXPECT_EQ(Load(shared_->open), 0u);
  EXPECT_EQ(Load(shared_->reopen.reopening), 20u);
  EXPECT_EQ(Load(shared_->failed), 0u);  // a drop with reconnect is not a failure
  server.SetMode(TestEchoServer::Mode::kEcho);
  Settle();
  EXPECT_EQ(Load(shared_->reopen.reconnected), 0u);  // the backoff has not passed
  AdvanceAndRun(absl::Milliseconds(100));
  Settle();
  EXPECT_EQ(Load(shared_->reopen.reconnected), 0u);
  AdvanceAndRun(absl::Milliseconds(120));
  ASSERT_TRUE(RunUntil([&] { return Load(shared_->reopen.reconnected) == 20; }));
  EXPECT_EQ(Load(shared_->open), 20u);
  EXPECT_EQ(Load(shared_->reopen.reopening), 0u);
  EXPECT_EQ(Load(shared_->established), 20u);  // established counts each connection once
  EXPECT_EQ(shared_->reopen.recovery.count.load(), 20u);
  EXPECT_GE(shared_->reopen.recovery.max_us.load(), 200'000u);
  EXPECT_GE(Load(shared_->reopen.longest_outage_us), 200'000u);
  EXPECT_TRUE(RunUntil([&] { return server.open() == 20; }));
  // The next round verifies every connection again.
  ASSERT_TRUE(engine_->BeginEcho(2).ok());
  ASSERT_TRUE(RunUntilRoundDone(2));
  EXPECT_EQ(Load(shared_->reopen.round_verified), 20u);
}

// Without reconnect a drop stays a failure; with max_attempts the reopen
// is given up after that many refused attempts, counted by reason.
TEST_F(ConnectionEngineTest, ReconnectGivesUpAfterMaxAttempts) {
  UseFakeClock();
  std::optional<TestEchoServer> server(std::in_place);
  StartOptions o;
  o.targets = {server->endpoint()};
  o.connections = 10;
  v1::WorkerStart start = MakeStart(o);
  v1::ReconnectSettings* reconnect = start.mutable_assignment()->mutable_reconnect();
  reconnect->set_initial_backoff_ms(10);
  reconnect->set_max_backoff_ms(40);
  reconnect->set_max_attempts(3);
  ASSERT_TRUE(engine_->Start(start).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));
  server.reset();  // every connection closed, and the port refuses from now on
  RunUntil([&] { return Load(shared_->reopen.drops) == 10; });
  for (int i = 0; i < 20 && Load(shared_->reopen.reopening) > 0; ++i) {
    AdvanceAndRun(absl::Milliseconds(50));
    Settle();
  }
  EXPECT_EQ(Load(shared_->reopen.reopening), 0u);
  EXPECT_EQ(Load(shared_->reopen.failures[ReasonCode(ECONNREFUSED)]), 10u);
  EXPECT_EQ(Load(shared_->reopen.reconnected), 0u);
  EXPECT_EQ(Load(shared_->open), 0u);
}

// Churn closes and reopens connections at its rate from the end of the
// ramp for its duration; the server accepts each reopen.
TEST_F(ConnectionEngineTest, ChurnClosesAndReopensAtItsRate) {
  UseFakeClock();
  TestEchoServer server;
  StartOptions o;
  o.targets = {server.endpoint()};
  o.connections = 50;
  v1::WorkerStart start = MakeStart(o);
  start.mutable_assignment()->mutable_churn()->set_rate(100);
  start.mutable_assignment()->mutable_churn()->set_duration_ms(1000);
  ASSERT_TRUE(engine_->Start(start).ok());
  ASSERT_TRUE(engine_->BeginConnect().ok());
  ASSERT_TRUE(RunUntilPhase(WorkerPhase::kConnected));
  for (int i = 0; i < 150; ++i) {  // 1.5 s: churn stops at 1 s
    AdvanceAndRun(absl::Milliseconds(10));
    RunUntil([] { return false; }, absl::Milliseconds(3));
  }
  Settle();
  const uint64_t churned = Load(shared_->reopen.churned);
  EXPECT_GE(churned, 95u);
  EXPECT_LE(churned, 101u);
  EXPECT_EQ(Load(shared_->open), 50u);
  EXPECT_EQ(Load(shared_->reopen.reopening), 0u);
  EXPECT_EQ(Load(shared_->established), 50u);
  EXPECT_EQ(server.accepted(), 50u + churned);
  EXPECT_EQ(Load(shared_->reopen.drops), 0u);
}

}  // namespace
}  // namespace fourtuple::agent
