// The connection engine of one agent worker process: one epoll loop that
// opens this worker's slice of the run's connections (each bound to its source
// address, non-blocking, rate-limited, a bounded number in flight), holds
// them, echo-checks them on command and closes them, counting everything in
// the worker's AgentWorkerShared block (agent/worker/worker_protocol.h).
//
// State per connection is one 32-byte record of a preallocated table
// (agent/conn_table.h); timeouts are a coarse timer wheel linked through the
// table; reads go to one shared scratch buffer and writes come from one
// shared payload buffer regenerated per connection (agent/echo_payload.h), or
// from the run's fixed request (echo.send; agent/echo_exchange.h), held once.
// Failures are counted by reason and never retried; the load models
// (connection_engine_reconnect.cc) reopen what churn closes and, with
// reconnect, what the far side drops.
//
// The loop does not read its control socket itself: RunAgentWorker
// (worker_process.cc) registers it with WatchExternal() and turns its messages
// into Start / BeginConnect / BeginEcho / CloseAll calls, and tests call the
// same methods directly and spin RunOnce().
//
// Time comes from an EngineClock handed to Create (the monotonic clock
// unless a test hands in its own), so tests of timeouts and pacing move time
// themselves instead of waiting for it.
//
// Thread-safety: a ConnectionEngine is used by one thread (its loop). The
// shared block it writes may be read by other processes at any time.
#ifndef FOURTUPLE_AGENT_WORKER_CONNECTION_ENGINE_H_
#define FOURTUPLE_AGENT_WORKER_CONNECTION_ENGINE_H_

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <bitset>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/worker/conn_table.h"
#include "agent/worker/echo_exchange.h"
#include "agent/worker/echo_payload.h"
#include "agent/worker/opening.h"
#include "agent/worker/rate_limiter.h"
#include "agent/worker/source_ports.h"
#include "agent/worker/source_space.h"
#include "agent/worker/timer_wheel.h"
#include "agent/worker/tls_client.h"
#include "agent/worker/worker_protocol.h"
#include "agent/worker/ws_client.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::agent {

// The loop's read buffer, shared by every connection.
inline constexpr size_t kScratchBytes = 64 * 1024;
// Loop tick: the resolution of connect and echo timeouts.
inline constexpr uint32_t kEngineTickUs = 10'000;
// Timer-wheel size (ticks per revolution: 10.24 s at 10 ms ticks).
inline constexpr uint32_t kEngineWheelBuckets = 1024;
// Connect latency and echo RTT are measured with 32-bit microsecond stamps:
// the longest timeout (wire_limits.h) plus two ticks must fit.
static_assert(kMaxTimeoutMs * 1000 + 2 * kEngineTickUs < (uint64_t{1} << 32));
// A worker's slice is bounded by its fd budget in practice; this bounds the table.
inline constexpr uint64_t kMaxWorkerConnections = uint64_t{1} << 24;

// Where the engine reads the time: nanoseconds since any fixed epoch, never
// going back. One per engine; tests implement it to move time by hand.
class EngineClock {
 public:
  virtual ~EngineClock() = default;
  virtual uint64_t NowNanos() const = 0;
};

class ConnectionEngine {
 public:
  // `shared` must stay mapped while the engine lives; it is expected zeroed
  // (Start() zeroes it again for a second run in the same process).
  // `source_ports`: who picks each connection's source port (source_ports.h).
  // `clock`: null for CLOCK_MONOTONIC, read directly; else it must outlive
  // the engine.
  static absl::StatusOr<std::unique_ptr<ConnectionEngine>> Create(
      AgentWorkerShared* shared, SourcePorts source_ports = SourcePorts::kKernel,
      const EngineClock* clock = nullptr, size_t shared_bytes = sizeof(AgentWorkerShared));
  ~ConnectionEngine();  // Closes every connection (RST) and the epoll fd.

  ConnectionEngine(const ConnectionEngine&) = delete;
  ConnectionEngine& operator=(const ConnectionEngine&) = delete;

  // Takes an assignment slice: validates it, builds the table, phase kReady.
  // A run already in progress is closed first and the counters start over.
  absl::Status Start(const v1::WorkerStart& start);
  // Starts the ramp: phase kConnecting, then kConnected once every connection
  // of the slice has been attempted and none is pending.
  absl::Status BeginConnect();
  // Starts echo round `round` (>= 1) on every open connection, at most
  // max_in_flight outstanding at once; echo_rounds_done = round when each is
  // verified, mismatched, timed out or closed. A round asked for while one is
  // running starts when it finishes (only the latest such request is kept).
  absl::Status BeginEcho(uint32_t round);
  // Closes every connection with an RST (no TIME_WAIT holding source ports),
  // or a FIN with close mode "fin"; phase kClosed. Pending connects are abandoned, not counted as failures.
  void CloseAll();
  // Records an unrecoverable error in the shared block; phase kFailed.
  void Fail(absl::string_view message);

  // Level-triggered EPOLLIN on an outside fd (control socket, signalfd);
  // RunOnce reports it readable through bit `tag` (0..31) of its result.
  absl::Status WatchExternal(int fd, int tag);

  // One turn of the loop: waits for events at most max_wait_ms (-1: no
  // limit; shorter, to the microsecond, when a timer tick or a rate-limiter
  // token is due),
  // handles them, expires timeouts, starts connects and echoes the limits
  // allow and updates the phase. Returns the tags of readable outside fds.
  absl::StatusOr<uint32_t> RunOnce(int max_wait_ms);

  WorkerPhase phase() const;
  // Connects pending, echoes outstanding (for tests and the loop's own bounds).
  uint64_t in_flight() const { return in_flight_; }
  uint64_t echo_outstanding() const { return echo_outstanding_; }
  // The loop clock: microseconds since the engine was created.
  uint64_t NowMicros() const;

 private:
  struct SocketAddress {
    union {
      sockaddr any;
      sockaddr_in v4;
      sockaddr_in6 v6;
    };
    socklen_t length = 0;
  };

  ConnectionEngine(AgentWorkerShared* shared, size_t shared_bytes, int epoll_fd, SourcePorts source_ports,
                   const EngineClock* clock);
  uint64_t NowNanos() const;

  void ResetShared();
  void UpdatePhase();
  // How long RunOnce may wait, in microseconds (-1: no limit).
  int64_t WaitMicros(int max_wait_ms);
  // epoll_pwait2 (microsecond timeouts) where the kernel has it, else
  // epoll_wait with the wait rounded up to a millisecond.
  int WaitForEvents(int64_t wait_us);

  // Connecting.
  void PumpConnects();
  void StartConnect(uint32_t slot);
  // socket, bind, connect for `c` along `route`, stamped `now` (one clock
  // read per attempt); 0 or the errno (c.fd is set once the socket exists).
  int OpenAndConnect(Connection& c, uint64_t id, int attempt, uint64_t now);
  // SourcePorts::kAgent: the cursors' starting ports for this slice.
  void SeedPortCursors(uint64_t first_connection);
  // SourcePorts::kAgent: the port (network order) for connection `id`'s
  // `attempt`-th try.
  uint16_t AgentPort(uint64_t id, int attempt);
  // This slot's source address counters.
  SourceCount& SourceCountOf(uint32_t slot);
  void OnConnectEvent(uint32_t slot, Connection& c, uint32_t events);
  bool IsSelfConnect(uint32_t slot, const Connection& c) const;
  void FailConnect(uint32_t slot, Connection& c, int reason);

  // Established connections.
  void OnEstablishedEvent(uint32_t slot, Connection& c, uint32_t events);
  // Reads what has arrived (`events` as epoll gave them); false when the
  // connection was closed meanwhile.
  bool ReadEcho(uint32_t slot, Connection& c, uint32_t events);
  // Writes the rest of the payload; false when the connection was closed.
  bool SendEcho(uint32_t slot, Connection& c);
  void StartEcho(uint32_t slot, Connection& c, uint64_t now);
  void FinishEcho(uint32_t slot, Connection& c);
  void PumpEchoes();
  // Whether a paced echo may start now (an idle connection is waiting for a
  // slot); the rate limiter then says when.
  bool EchoWaitsForToken() const;
  void StartRound(uint32_t round);
  void OnTimeout(uint32_t slot);
  // The far side closed or reset an established connection.
  void LoseConnection(uint32_t slot, Connection& c, int reason);
  // Our decision to drop an established connection (mismatch, unexpected
  // data, a reply we can no longer tell apart from the next one).
  void DropConnection(uint32_t slot, Connection& c);

  // TLS (connection_engine_tls.cc); every hook is a no-op without tls_.
  // Builds tls_ from assignment.tls (or clears it) and sizes the side table.
  absl::Status SetUpTls(const v1::WorkerStart& start);
  void ResetTlsShared();
  // TCP is established: start the handshake (the connect stays in flight).
  void BeginHandshake(uint32_t slot, Connection& c);
  void OnHandshakeEvent(uint32_t slot, Connection& c, uint32_t events);
  void FreeTls(uint32_t slot);
  // Frees the SSL object once its handshake is done, keeping only the record
  // keys (common/tls_record.h), when OpenSSL's outcome allows.
  void TryDetach(uint32_t slot);
  // The ramp is over: the handshakes' transient memory (OpenSSL's buffers
  // and objects, freed but spread over the heap) goes back to the kernel.
  void OnRampDone();
  void RecordTlsDetail(int reason);
  void RecordNegotiated(const SSL* ssl);
  // The connection's bytes, through TLS when it is on (plain socket semantics).
  ssize_t SendBytes(uint32_t slot, const Connection& c, const char* data, size_t size);
  ssize_t RecvBytes(uint32_t slot, const Connection& c, char* data, size_t size);
  // Counts an established connection (TCP, and TLS when on) and reads what
  // may have come with it.
  void Establish(uint32_t slot, Connection& c, uint32_t events);
  uint32_t SlotOf(const Connection& c) { return static_cast<uint32_t>(&c - table_.data()); }

  // Load models (connection_engine_reconnect.cc): close mode, churn and
  // reconnects, each a no-op unless the assignment asks for it.
  absl::Status SetUpLoadModels(const v1::WorkerStart& start);
  // Whether closing one of our connections sends an RST (close "rst").
  bool CloseResets() const { return !close_fin_; }
  // The ramp is over: churn starts.
  void OnRampSettled();
  // Churn closes, then reopens due, as the rate limiters and in-flight cap allow.
  void PumpLoadModels();
  // How long the loop may wait for the next churn or reopen token (-1: none).
  int64_t LoadModelWaitMicros(uint64_t now) const;
  // An established connection the far side closed: true when it will reconnect.
  void ReconnectAfterDrop(uint32_t slot, Connection& c);
  // A reopen's connect failed: back off and retry, or give up.
  void OnReopenFailed(uint32_t slot, Connection& c, int reason);
  // A reopen is established: counted as reconnected or churned, not established.
  void OnReopened(uint32_t slot, Connection& c);
  // A backoff ended: the slot queues for a connect token.
  void OnBackoffDone(uint32_t slot, Connection& c);
  void ChurnOne(uint64_t now);
  void ReopenSlot(uint32_t slot);
  void EnterBackoff(uint32_t slot, Connection& c, uint64_t now);
  // socket, bind, connect and registration of `c` (state kConnecting).
  void OpenSlot(uint32_t slot, Connection& c);
  void ResetLoadModelShared();
  // CloseAll: nothing reopens any more.
  void EndLoadModels();
  // Failure samples (failure_samples.h): keeps data[0, size) as the first
  // reply of `reason` (a kReason* code) unless this worker has one already.
  // Call it where a failure is decided from received bytes, before or after
  // CountFailure; it costs nothing once the reason has its sample.
  void RecordFailureSample(int reason, const char* data, size_t size);
  // A reply went wrong after its first bytes were right: unless `reason`
  // has its sample, keeps the reply from its start — `head` (the bytes that
  // matched, regenerated), then `data` (what this read got) and what else
  // the socket holds now, up to kFailureSampleBytes (the connection is
  // given up, so reading on costs it nothing). `data` may be scratch_.
  void SampleReply(uint32_t slot, const Connection& c, int reason, const char* head, size_t head_size,
                   const char* data, size_t size);
  // An echo reply went wrong after `matched` bytes were right.
  void SampleEchoReply(uint32_t slot, const Connection& c, size_t matched, const char* data, size_t size);

  // The opening (connection_engine_opening.cc): echo.greeting, then
  // echo.first_send and its reply, before a connection counts as
  // established. Builds opening_ from the assignment.
  absl::Status SetUpOpening(const v1::WorkerStart& start);
  // TCP (and TLS) is done and the connect timer cancelled: counts the
  // connection as established, or starts its opening (it stays in flight).
  void EstablishOrOpen(uint32_t slot, Connection& c, uint32_t events);
  void StartFirstRequest(uint32_t slot, Connection& c);
  // Writes the rest of echo.first_send; false when the connection failed.
  bool SendFirstRequest(uint32_t slot, Connection& c);
  void OnOpeningEvent(uint32_t slot, Connection& c, uint32_t events);
  void ReadOpening(uint32_t slot, Connection& c, uint32_t events);
  void FinishOpening(uint32_t slot, Connection& c, uint32_t events);
  void SampleOpening(uint32_t slot, const Connection& c, int reason, size_t matched, const char* data,
                     size_t size);
  // WebSocket (connection_engine_ws.cc); every hook is a no-op without ws_.
  // Builds ws_ from assignment.websocket (or clears it).
  absl::Status SetUpWs(const v1::WorkerStart& start);
  void ResetWsShared();
  // TCP (and TLS) is established: send the upgrade (the connect stays in flight).
  void BeginUpgrade(uint32_t slot, Connection& c);
  void OnUpgradeEvent(uint32_t slot, Connection& c, uint32_t events);
  // The upgrade response in data[0, size) is whole (head_bytes long); checks it.
  void FinishUpgrade(uint32_t slot, Connection& c, const char* data, size_t size, size_t head_bytes);
  // Frames: the echo round's request as one masked frame, the replies and
  // control frames as they arrive.
  bool SendWsEcho(uint32_t slot, Connection& c);
  bool ReadWs(uint32_t slot, Connection& c, uint32_t events);
  // Takes received bytes; false when the connection was closed meanwhile.
  bool ConsumeWs(uint32_t slot, Connection& c, const char* data, size_t size);
  bool WsReplyMatches(uint32_t slot, size_t offset, const char* data, size_t size) const;
  size_t WsReplyBytes() const;
  size_t WsRequestBytes() const;
  bool SendWsControl(uint32_t slot, Connection& c, uint8_t opcode, const char* payload, size_t size);
  // A ping is due or overdue on an idle connection (its timer fired).
  void OnWsTimer(uint32_t slot, Connection& c);
  void ArmWsPing(uint32_t slot, uint64_t now);
  void FailWs(uint32_t slot, Connection& c, int reason);
  void ForgetWs(uint32_t slot);
  // The close phase: a close frame on every open connection, then a short
  // wait for the servers' answers.
  void CloseWsGracefully();

  // Bookkeeping.
  void CountFailure(uint32_t slot, Connection& c, int reason);
  void CloseFd(Connection& c, bool reset);
  EchoId EchoIdOf(uint32_t slot) const;
  uint32_t TickOf(uint64_t now_us) const { return static_cast<uint32_t>(now_us / kEngineTickUs); }
  uint32_t DeadlineTick(uint64_t now_us, uint64_t timeout_us) const {
    return static_cast<uint32_t>((now_us + timeout_us + kEngineTickUs - 1) / kEngineTickUs);
  }

  // Constant after construction.
  AgentWorkerShared* const shared_;
  const uint64_t source_count_capacity_;  // counters the shared block holds
  const int epoll_fd_;
  const EngineClock* const clock_;  // null: CLOCK_MONOTONIC
  const uint64_t epoch_ns_;
  const SourcePorts source_ports_;

  // Constant during a run (set by Start).
  bool started_ = false;
  uint32_t agent_index_ = 0;
  uint64_t first_connection_ = 0;
  uint32_t connections_ = 0;
  uint32_t max_in_flight_ = 1;
  double connect_rate_ = 0;  // this worker's share; 0 = unlimited
  double echo_rate_ = 0;     // echo checks per second, this worker's share; 0 = unlimited
  double pace_phase_ = 0;    // 0..1: where in an interval this worker's tokens fall
  // What a round sends and expects: the unique-id payload or echo.send/expect.
  EchoExchange exchange_ = EchoExchange::UniquePayload(kMinPayloadBytes);
  Opening opening_;  // echo.greeting, echo.first_send/first_expect
  uint64_t connect_timeout_us_ = 0;
  uint64_t echo_timeout_us_ = 0;
  SourceSpace sources_;
  SourceWindow source_window_;
  std::vector<SocketAddress> targets_;
  std::vector<std::string> target_names_;
  // SourcePorts::kAgent: the local port range and, per (source, target)
  // pair (source index + target index x sources), the next port's offset in it.
  uint32_t port_low_ = 0;
  uint32_t port_count_ = 0;
  std::vector<uint32_t> port_cursors_;

  // Loop state.
  ConnectionTable table_;
  TimerWheel<Connection> wheel_{kEngineWheelBuckets};
  std::optional<RateLimiter> limiter_;
  std::optional<RateLimiter> echo_limiter_;  // per round
  bool have_pwait2_ = true;                  // false once the kernel said ENOSYS
  uint64_t ramp_start_us_ = 0;               // when BeginConnect came
  uint64_t last_connect_us_ = 0;             // the previous connect() call, for connect_gap
  uint32_t next_generation_ = 1;
  bool connect_started_ = false;
  uint32_t connect_cursor_ = 0;  // slots below have been attempted
  uint64_t in_flight_ = 0;
  uint64_t open_ = 0;
  bool echo_active_ = false;
  uint32_t echo_round_ = 0;
  uint32_t echo_cursor_ = 0;  // slots below were offered this round
  uint64_t echo_outstanding_ = 0;
  uint32_t pending_round_ = 0;  // asked for while a round ran; 0 = none
  bool closed_ = false;
  bool failed_ = false;
  std::vector<std::bitset<kReasonSlots>> logged_failures_;  // per target

  // TLS: the worker's client context and, by slot, each connection's SSL
  // object (null when none): 8 bytes per connection, allocated only with TLS
  // and left unwritten until a slot is used, like the table.
  std::unique_ptr<TlsClient> tls_;
  std::unique_ptr<SSL*[]> tls_by_slot_;
  // By slot as well (120 bytes): the record keys of a detached connection,
  // its traffic secrets before. With the SSL object gone, this and the
  // 32-byte record are all a held TLS connection costs.
  std::unique_ptr<TlsRecordState[]> tls_records_;
  bool tls_resume_ = false;
  std::unique_ptr<TlsRecordCipher> tls_cipher_;  // seals and opens for every detached connection
  std::unique_ptr<char[]> tls_out_;              // one sealed record

  // WebSocket: the worker's request template and, by slot, the few
  // connections whose upgrade response or control frame arrived in parts
  // (bounded by max_in_flight for responses; control frames split over
  // reads are rare): the bytes so far. Nothing per idle connection.
  std::optional<WsClient> ws_;
  std::unordered_map<uint32_t, std::string> ws_partial_;
  std::unique_ptr<char[]> ws_frame_;  // one outgoing echo frame

  // Shared buffers: the only I/O memory, whatever the connection count.
  std::unique_ptr<char[]> scratch_;  // reads
  std::unique_ptr<char[]> payload_;  // writes of the unique-id payload
  std::unique_ptr<epoll_event[]> events_;

  // Load models (connection_engine_reconnect.cc). Constant during a run:
  bool close_fin_ = false;
  double churn_rate_ = 0;  // this worker's share; 0 = no churn
  uint64_t churn_duration_us_ = 0;
  std::optional<v1::ReconnectSettings> reconnect_;
  // Loop state: transient, sized by what is reopening, not by what is held.
  bool ramp_done_ = false;
  std::optional<RateLimiter> churn_limiter_;  // while churn runs
  uint64_t churn_end_us_ = 0;
  uint32_t churn_cursor_ = 0;          // the oldest-opened slot: churn closes from here on
  std::deque<uint32_t> reopen_queue_;  // backoff over, waiting for a connect token
  uint64_t reopening_ = 0;             // slots in kBackoff or reconnecting
  uint64_t recovering_ = 0;            // of those, dropped by the far side (not churned)
  uint64_t outage_start_us_ = 0;       // the first drop of the current outage; 0 = none
  std::minstd_rand jitter_rng_;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_CONNECTION_ENGINE_H_
