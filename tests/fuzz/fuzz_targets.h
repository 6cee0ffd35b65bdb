// What the libFuzzer targets run on each input, shared with the regression
// test (fuzz_corpus_test.cc) that replays every kept input in the normal
// build. Each function parses untrusted text and checks properties that must
// hold for any input; a violated property aborts (a crash the fuzzer keeps).
// Thread-safe (no shared state).
#ifndef FOURTUPLE_TESTS_FUZZ_FUZZ_TARGETS_H_
#define FOURTUPLE_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>

namespace fourtuple::fuzz {

// coordinator ParsePlan: never crashes; an accepted plan survives the
// PlanToJson → ParsePlan round trip unchanged; every error is
// InvalidArgument with a message.
void FuzzPlan(const uint8_t* data, size_t size);

// common/address: ParseIpAddress, ParseAddressSpec, ParseEndpoint(List),
// ParseCidr never crash; what they accept prints back to text they accept
// again as the same value.
void FuzzAddress(const uint8_t* data, size_t size);

}  // namespace fourtuple::fuzz

#endif  // FOURTUPLE_TESTS_FUZZ_FUZZ_TARGETS_H_
