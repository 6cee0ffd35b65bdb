// A coarse hashed timer wheel whose entries are records of a table, linked
// through fields of the records themselves: a pending timeout costs no
// allocation, only the links already in the record (`timer_next`,
// `timer_prev`, `deadline_tick`, all uint32_t).
//
// Time is in ticks (the engine uses 10 ms). A record scheduled for tick D sits
// in bucket D mod buckets; Advance(now) walks the buckets of the ticks that
// passed and expires the records whose deadline has come, leaving those due in
// a later revolution. Deadlines are compared mod 2^32, so they must lie less
// than 2^31 ticks ahead.
//
// EarliestDueTick() tells the loop when to wake next, so that a loop holding
// timers far ahead (a 60 s echo timeout) sleeps until then instead of waking
// every tick: a thousand workers on one host each waking every 10 ms for
// nothing cost 100,000 context switches a second.
//
// Thread-safety: owned by one loop thread; nothing is synchronized.
#ifndef FOURTUPLE_AGENT_WORKER_TIMER_WHEEL_H_
#define FOURTUPLE_AGENT_WORKER_TIMER_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fourtuple::agent {

template <typename Node>
class TimerWheel {
 public:
  static constexpr uint32_t kNil = UINT32_MAX;               // end of a bucket list
  static constexpr uint32_t kNotScheduled = UINT32_MAX - 1;  // in timer_prev

  // `bucket_count` must be a power of two.
  explicit TimerWheel(uint32_t bucket_count) : heads_(bucket_count, kNil), mask_(bucket_count - 1) {}

  // Forgets every entry and starts the clock at `now_tick`. `nodes` must stay
  // live while the wheel is in use; a node is not scheduled until
  // MarkUnscheduled() or Schedule() writes its links.
  void Reset(Node* nodes, uint32_t now_tick) {
    nodes_ = nodes;
    current_ = now_tick;
    size_ = 0;
    for (uint32_t& head : heads_) head = kNil;
  }

  static void MarkUnscheduled(Node& node) { node.timer_prev = kNotScheduled; }
  static bool IsScheduled(const Node& node) { return node.timer_prev != kNotScheduled; }

  // Expires `slot` at the first Advance() with now >= deadline (at the next
  // one when the deadline has already passed). Reschedules when scheduled.
  void Schedule(uint32_t slot, uint32_t deadline_tick) {
    Node& node = nodes_[slot];
    if (IsScheduled(node)) Cancel(slot);
    if (static_cast<int32_t>(deadline_tick - current_) <= 0) deadline_tick = current_ + 1;
    if (size_ == 0 || static_cast<int32_t>(deadline_tick - earliest_) < 0) earliest_ = deadline_tick;
    node.deadline_tick = deadline_tick;
    uint32_t& head = heads_[deadline_tick & mask_];
    node.timer_prev = kNil;
    node.timer_next = head;
    if (head != kNil) nodes_[head].timer_prev = slot;
    head = slot;
    ++size_;
  }

  // No-op for an unscheduled node.
  void Cancel(uint32_t slot) {
    Node& node = nodes_[slot];
    if (!IsScheduled(node)) return;
    if (node.timer_prev == kNil) {
      heads_[node.deadline_tick & mask_] = node.timer_next;
    } else {
      nodes_[node.timer_prev].timer_next = node.timer_next;
    }
    if (node.timer_next != kNil) nodes_[node.timer_next].timer_prev = node.timer_prev;
    node.timer_prev = kNotScheduled;
    --size_;
  }

  // Moves the clock to `now_tick` and calls expire(slot) for every entry now
  // due, after unscheduling it. expire may schedule or cancel its own slot,
  // never another one (the walk has already read the next link).
  template <typename Expire>
  void Advance(uint32_t now_tick, Expire&& expire) {
    int32_t ahead = static_cast<int32_t>(now_tick - current_);
    if (ahead <= 0) return;
    // Past one revolution every bucket is visited once.
    uint32_t steps = static_cast<uint32_t>(ahead) > mask_ ? mask_ + 1 : static_cast<uint32_t>(ahead);
    uint32_t first = now_tick - steps + 1;
    current_ = now_tick;
    for (uint32_t step = 0; step < steps && size_ > 0; ++step) {
      uint32_t slot = heads_[(first + step) & mask_];
      while (slot != kNil) {
        uint32_t next = nodes_[slot].timer_next;
        if (static_cast<int32_t>(nodes_[slot].deadline_tick - now_tick) <= 0) {
          Cancel(slot);
          expire(slot);
        }
        slot = next;
      }
    }
    if (size_ > 0 && static_cast<int32_t>(earliest_ - now_tick) <= 0) FindEarliest();
  }

  // A tick at or before the earliest deadline of those scheduled (only when
  // !empty()): a lower bound, since a cancelled entry or one due a
  // revolution later can leave it early; waking then costs one Advance that
  // finds nothing and moves the bound on.
  uint32_t EarliestDueTick() const { return earliest_; }

  uint32_t current_tick() const { return current_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  // The first non-empty bucket after current_: every entry of the bucket j
  // ticks ahead is due at current_ + j or a whole revolution later.
  void FindEarliest() {
    for (uint32_t j = 1; j <= mask_ + 1; ++j) {
      if (heads_[(current_ + j) & mask_] != kNil) {
        earliest_ = current_ + j;
        return;
      }
    }
  }

  std::vector<uint32_t> heads_;
  uint32_t mask_;
  Node* nodes_ = nullptr;
  uint32_t current_ = 0;
  size_t size_ = 0;
  uint32_t earliest_ = 0;  // see EarliestDueTick(); meaningful while size_ > 0
};

}  // namespace fourtuple::agent

#endif  // FOURTUPLE_AGENT_WORKER_TIMER_WHEEL_H_
