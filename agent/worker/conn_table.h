// The connection table of one agent worker: one fixed 32-byte record per
// connection of the worker's slice, allocated once at start and addressed by
// a 32-bit slot (slot = connection id - first_connection). No connection owns
// a heap object, a buffer, a string or a timer: the record is all there is.
//
// Thread-safety: a table belongs to one loop thread; nothing is synchronized.
#ifndef FOURTUPLE_AGENT_WORKER_CONN_TABLE_H_
#define FOURTUPLE_AGENT_WORKER_CONN_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace fourtuple::agent {

enum class ConnState : uint8_t {
  kConnecting = 0,   // connect() issued, waiting for EPOLLOUT; timer armed
  kIdle = 1,         // established, no echo outstanding
  kEchoing = 2,      // echo payload being sent / read back; timer armed
  kClosed = 3,       // fd closed (failed, closed by the peer, or by us)
  kHandshaking = 4,  // TCP established, TLS handshake running; timer armed
  // Closed by the far side (or by churn), waiting to reopen: in the timer
  // wheel for its backoff, or queued for a connect token. echo_sent and
  // echo_received hold the drop time (ms, low and high half), echo_skip the
  // attempts so far (connection_engine_reconnect.cc).
  kBackoff = 5,
  kGreeting = 6,   // reading echo.greeting (agent/worker/opening.h); timer armed
  kOpening = 7,    // echo.first_send sent / its reply being read; timer armed
  kUpgrading = 8,  // TCP (and TLS) established, WebSocket upgrade sent; timer armed
};

// Connection::flags bits.
inline constexpr uint8_t kConnFlagFailed = 1;  // already counted in `failed` (once per connection)
inline constexpr uint8_t kConnFlagReopen = 2;  // this open is a reopen (reconnect or churn), not the first
inline constexpr uint8_t kConnFlagChurn = 4;   // with kConnFlagReopen: closed by churn, not dropped
// Greeted, no echo round yet: bytes that arrive meanwhile are the rest of the
// greeting (a banner's line) and are ignored.
inline constexpr uint8_t kConnFlagGreetingTail = 8;
inline constexpr uint8_t kConnFlagWsPingOut = 16;  // WebSocket: a ping sent, its pong not yet back

struct Connection {
  int32_t fd;           // -1 once closed
  uint32_t generation;  // epoll tag check: a stale event for an old use is ignored
  uint32_t stamp_us;    // loop clock mod 2^32 at connect() or at the echo send
  uint32_t timer_next;  // timer-wheel links (TimerWheel<Connection>)
  uint32_t timer_prev;
  uint32_t deadline_tick;  // timer-wheel deadline, in loop ticks mod 2^32
  uint16_t echo_sent;      // bytes of this round's payload written
  uint16_t echo_received;  // bytes of this round's payload read back and matched
  uint16_t echo_skip;      // late bytes of timed-out earlier payloads still to discard
  ConnState state;
  uint8_t flags;  // kConnFlag*
};
// The per-connection cost of the agent: 32 bytes × a million = 32 MB.
static_assert(sizeof(Connection) == 32, "the connection record must stay at 32 bytes");
static_assert(std::is_trivially_default_constructible_v<Connection>,
              "records are left unwritten (untouched pages) until their slot is used");

// epoll_event.data.u64 of a connection: slot in the low half, generation above.
inline uint64_t EpollTag(uint32_t slot, uint32_t generation) {
  return static_cast<uint64_t>(slot) | (static_cast<uint64_t>(generation) << 32);
}
inline uint32_t EpollTagSlot(uint64_t tag) { return static_cast<uint32_t>(tag); }
inline uint32_t EpollTagGeneration(uint64_t tag) { return static_cast<uint32_t>(tag >> 32); }

// A fixed array of records. Allocation does not touch the memory: the pages of
// a slot are faulted in when the engine first writes it, so a worker's RSS
// grows with the connections it has actually attempted.
class ConnectionTable {
 public:
  ConnectionTable() = default;

  // Replaces the table with `size` unwritten records; false when memory is short.
  bool Allocate(size_t size) {
    records_.reset(new (std::nothrow) Connection[size]);
    size_ = records_ ? size : 0;
    return records_ != nullptr || size == 0;
  }
  void Clear() {
    records_.reset();
    size_ = 0;
  }

  size_t size() const { return size_; }
  Connection* data() { return records_.get(); }
  Connection& operator[](uint32_t slot) { return records_[slot]; }
  const Connection& operator[](uint32_t slot) const { return records_[slot]; }

 private:
  std::unique_ptr<Connection[]> records_;
  size_t size_ = 0;
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_CONN_TABLE_H_
