// target-server counters: one WorkerCounters block per worker process in
// shared memory (written by that worker only), and the parent's view of all
// of them (snapshots, the stats line, the GetStats reply).
//
// Thread-safety: a WorkerCounters has one writer (its worker's loop) and any
// number of readers in other processes or threads; every field is a relaxed
// atomic, so a reader may see counters from slightly different moments but
// never a torn value. CounterSet is thread-safe (it only reads atomics and
// its own atomic liveness flags).
#ifndef FOURTUPLE_TARGET_SERVER_COUNTERS_H_
#define FOURTUPLE_TARGET_SERVER_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/time/time.h"
#include "common/failure_reason.h"
#include "proto/fourtuple.pb.h"

namespace fourtuple::target_server {

// Lives in zero-filled shared memory: all-zero bytes are a valid state.
struct WorkerCounters {
  std::atomic<uint64_t> open;                         // accepted and not yet closed
  std::atomic<uint64_t> accepted;                     // ever accepted
  std::atomic<uint64_t> closed;                       // closed (by the peer, an error or shutdown)
  std::atomic<uint64_t> bytes_echoed;                 // bytes read to echo back (plaintext with TLS)
  std::atomic<uint64_t> accept_errors[kReasonSlots];  // by ReasonCode(errno)
  std::atomic<uint64_t> at_capacity;                  // times accepting stopped at the budget
  std::atomic<uint64_t> tls_handshakes;               // --listen-tls-cert: handshakes finished
  std::atomic<uint64_t> tls_failed;                   //   and connections whose handshake failed

  // The single writer's increment: a plain load and store, no locked
  // instruction (nobody else writes the field).
  static void Add(std::atomic<uint64_t>& counter, uint64_t delta) {
    counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& counter, uint64_t delta) {
    counter.store(counter.load(std::memory_order_relaxed) - delta, std::memory_order_relaxed);
  }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared-memory counters need lock-free atomics");
static_assert(std::is_trivially_destructible_v<WorkerCounters>);

// Plain values read from one or more WorkerCounters.
struct CounterValues {
  uint64_t open = 0;
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t bytes_echoed = 0;
  std::array<uint64_t, kReasonSlots> accept_errors{};
  uint64_t at_capacity = 0;
  uint64_t tls_handshakes = 0;
  uint64_t tls_failed = 0;

  void Add(const CounterValues& other);
  void ToProto(v1::TargetCounters* out) const;
};

// Reads one block. `alive` false means the worker is gone: the kernel closed
// its connections when it died, so its open count becomes closed.
CounterValues ReadCounters(const WorkerCounters& counters, bool alive);

// The parent's view of every worker's block.
class CounterSet {
 public:
  // `blocks` must outlive this set (they are the WorkerPool's shared memory).
  explicit CounterSet(std::vector<const WorkerCounters*> blocks);

  int size() const { return static_cast<int>(blocks_.size()); }
  // Called by whoever reaps workers.
  void MarkDead(int index) { alive_[index].store(false, std::memory_order_relaxed); }
  bool alive(int index) const { return alive_[index].load(std::memory_order_relaxed); }

  CounterValues Worker(int index) const;
  CounterValues Total() const;

 private:
  std::vector<const WorkerCounters*> blocks_;  // constant after construction
  std::unique_ptr<std::atomic<bool>[]> alive_;
};

// One stats line (no trailing newline):
// {"t":1712345678.123,"open":N,"accepted":N,"closed":N,"bytes_echoed":N,"accept_errors":{"EMFILE":n}}
// With `final` set, ,"final":true is appended (the line printed at shutdown).
std::string StatsLine(const CounterValues& values, absl::Time now, bool final = false);

// The GetStats reply.
void FillTargetStats(const CounterSet& counters, const std::vector<std::string>& listen,
                     absl::Duration uptime, v1::TargetStats* out);

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_COUNTERS_H_
