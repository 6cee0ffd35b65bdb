// Buffers for echoes whose write would block. A connection holds one only
// between a short write and the moment its peer has read enough for the rest
// to go out (it stops reading meanwhile, so one buffer per connection is the
// most it ever needs); every other connection holds none.
//
// Thread-compatible: owned by one worker loop.
#ifndef FOURTUPLE_TARGET_SERVER_BUFFER_POOL_H_
#define FOURTUPLE_TARGET_SERVER_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fourtuple::target_server {

// Bytes read but not yet written back: data[begin, end).
struct PendingWrite {
  uint32_t begin = 0;
  uint32_t end = 0;
  std::unique_ptr<char[]> data;  // BufferPool::capacity() bytes
};

class BufferPool {
 public:
  // Each buffer holds `capacity` bytes; up to `max_idle` released buffers
  // are kept for reuse, the rest freed (so a burst of blocked writers does
  // not pin its peak memory forever).
  BufferPool(size_t capacity, size_t max_idle) : capacity_(capacity), max_idle_(max_idle) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  size_t capacity() const { return capacity_; }
  size_t in_use() const { return in_use_; }
  size_t idle() const { return idle_.size(); }

  // An empty buffer (begin == end == 0).
  PendingWrite* Take();
  void Give(PendingWrite* buffer);

 private:
  const size_t capacity_;
  const size_t max_idle_;
  size_t in_use_ = 0;
  std::vector<PendingWrite*> idle_;
};

}  // namespace fourtuple::target_server

#endif  // FOURTUPLE_TARGET_SERVER_BUFFER_POOL_H_
