#include "agent/worker/failure_samples.h"

#include <algorithm>
#include <cstring>

#include "common/failure_reason.h"

namespace fourtuple::agent {

void RecordFailureSample(AgentWorkerShared& shared, int reason, const void* data, size_t size) {
  const uint32_t code = static_cast<uint32_t>(ReasonCode(reason));
  for (SharedFailureSample& slot : shared.failure_samples) {
    const uint32_t taken = slot.reason.load(std::memory_order_relaxed);
    if (taken == code) return;  // the first one stays
    if (taken != 0) continue;
    slot.length = static_cast<uint32_t>(std::min(size, kFailureSampleBytes));
    if (slot.length > 0) std::memcpy(slot.bytes, data, slot.length);
    slot.reason.store(code, std::memory_order_release);
    return;
  }
}

bool HasFailureSample(const AgentWorkerShared& shared, int reason) {
  const uint32_t code = static_cast<uint32_t>(ReasonCode(reason));
  for (const SharedFailureSample& slot : shared.failure_samples) {
    if (slot.reason.load(std::memory_order_relaxed) == code) return true;
  }
  return false;
}

void ResetFailureSamples(AgentWorkerShared& shared) {
  for (SharedFailureSample& slot : shared.failure_samples) slot.reason.store(0, std::memory_order_relaxed);
}

void ReadFailureSamples(const AgentWorkerShared& shared, std::map<std::string, std::string>* by_reason) {
  for (const SharedFailureSample& slot : shared.failure_samples) {
    const uint32_t code = slot.reason.load(std::memory_order_acquire);
    if (code == 0) continue;
    const size_t length = std::min<size_t>(slot.length, kFailureSampleBytes);
    by_reason->emplace(std::string(ReasonName(static_cast<int>(code))), std::string(slot.bytes, length));
  }
}

}  // namespace fourtuple::agent
