// libFuzzer entry: the address, range, CIDR and endpoint parsers (see
// fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fourtuple::fuzz::FuzzAddress(data, size);
  return 0;
}
