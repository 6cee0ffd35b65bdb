#include "agent/worker/echo_payload.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace fourtuple::agent {
namespace {

std::string Payload(const EchoId& id, size_t size) {
  std::string out(size, '\0');
  FillEchoPayload(id, 0, size, out.data());
  return out;
}

TEST(EchoPayloadTest, HeaderCarriesTheIdLittleEndian) {
  EchoId id{0x01020304, 0x1122334455667788ULL, 0xa0b0c0d0};
  std::string p = Payload(id, 16);
  EXPECT_EQ(p, std::string("\x04\x03\x02\x01\x88\x77\x66\x55\x44\x33\x22\x11\xd0\xc0\xb0\xa0", 16));
  EchoId back = ParseEchoHeader(p.data());
  EXPECT_EQ(back.agent, id.agent);
  EXPECT_EQ(back.connection, id.connection);
  EXPECT_EQ(back.round, id.round);
}

TEST(EchoPayloadTest, AnyRangeEqualsTheSameBytesOfTheWhole) {
  EchoId id{7, 123456789, 3};
  std::string whole = Payload(id, 4096);
  for (size_t offset : {0, 1, 7, 15, 16, 17, 23, 24, 1000, 4095}) {
    for (size_t size : {1, 2, 8, 9, 100, 600}) {
      if (offset + size > whole.size()) continue;
      std::string part(size, '\0');
      FillEchoPayload(id, offset, size, part.data());
      EXPECT_EQ(part, whole.substr(offset, size)) << offset << "+" << size;
      EXPECT_TRUE(EchoPayloadMatches(id, offset, part.data(), size));
    }
  }
}

TEST(EchoPayloadTest, PaddingDiffersByAgentConnectionAndRound) {
  std::set<std::string> paddings;
  for (uint32_t agent : {0u, 1u}) {
    for (uint64_t connection : {0ull, 1ull, 2ull, 1ull << 40}) {
      for (uint32_t round : {1u, 2u}) {
        paddings.insert(Payload({agent, connection, round}, 64).substr(16));
      }
    }
  }
  EXPECT_EQ(paddings.size(), 16u);
}

TEST(EchoPayloadTest, MismatchIsDetectedAtEveryPosition) {
  EchoId id{2, 99, 5};
  std::string good = Payload(id, 1500);  // spans several comparison chunks
  ASSERT_TRUE(EchoPayloadMatches(id, 0, good.data(), good.size()));
  for (size_t i : {0, 3, 15, 16, 511, 512, 513, 1499}) {
    std::string bad = good;
    bad[i] ^= 1;
    EXPECT_FALSE(EchoPayloadMatches(id, 0, bad.data(), bad.size())) << i;
  }
  // Another connection's or round's bytes do not pass either.
  EXPECT_FALSE(EchoPayloadMatches({2, 100, 5}, 0, good.data(), good.size()));
  EXPECT_FALSE(EchoPayloadMatches({2, 99, 6}, 16, good.data() + 16, good.size() - 16));
  // A correct slice matched at the wrong offset fails.
  EXPECT_FALSE(EchoPayloadMatches(id, 17, good.data() + 16, 100));
}

}  // namespace
}  // namespace fourtuple::agent
