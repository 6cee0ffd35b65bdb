// libFuzzer entry: the coordinator's plan parser (see fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fourtuple::fuzz::FuzzPlan(data, size);
  return 0;
}
