#include "target-server/buffer_pool.h"

namespace fourtuple::target_server {

BufferPool::~BufferPool() {
  for (PendingWrite* buffer : idle_) delete buffer;
}

PendingWrite* BufferPool::Take() {
  PendingWrite* buffer;
  if (!idle_.empty()) {
    buffer = idle_.back();
    idle_.pop_back();
  } else {
    buffer = new PendingWrite;
    buffer->data.reset(new char[capacity_]);
  }
  buffer->begin = 0;
  buffer->end = 0;
  ++in_use_;
  return buffer;
}

void BufferPool::Give(PendingWrite* buffer) {
  --in_use_;
  if (idle_.size() < max_idle_) {
    idle_.push_back(buffer);
  } else {
    delete buffer;
  }
}

}  // namespace fourtuple::target_server
