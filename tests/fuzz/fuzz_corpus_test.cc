// Replays every kept fuzz input — the seed corpus and each crash the fuzzers
// found (tests/fuzz/regressions/) — through the same checks the libFuzzer
// targets run, in the normal gcc build: a fixed bug stays fixed even where
// clang is not installed.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/support/subprocess.h"

namespace fourtuple::fuzz {
namespace {

// Files under FUZZ_DIR/corpus/NAME and FUZZ_DIR/regressions/NAME (either may
// be missing), in a stable order.
std::vector<std::string> Inputs(const std::string& name) {
  std::vector<std::string> out;
  for (const char* kind : {"corpus", "regressions"}) {
    std::error_code error;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(FUZZ_DIR) + "/" + kind + "/" + name, error)) {
      if (entry.is_regular_file()) out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Replay(const std::string& name, void (*target)(const uint8_t*, size_t)) {
  const std::vector<std::string> inputs = Inputs(name);
  ASSERT_FALSE(inputs.empty()) << "no inputs for " << name << " under " << FUZZ_DIR;
  for (const std::string& path : inputs) {
    SCOPED_TRACE(path);
    const std::string data = testing::ReadFileOrEmpty(path);
    target(reinterpret_cast<const uint8_t*>(data.data()), data.size());  // aborts on a violation
  }
}

TEST(FuzzCorpusTest, PlanInputs) { Replay("plan", &FuzzPlan); }
TEST(FuzzCorpusTest, AddressInputs) { Replay("address", &FuzzAddress); }

}  // namespace
}  // namespace fourtuple::fuzz
