#include "common/failure_sample.h"

#include <string>

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(EscapeSample, KeepsPrintableAscii) {
  EXPECT_EQ(EscapeSample("-DENIED Redis is running"), "-DENIED Redis is running");
}

TEST(EscapeSample, EscapesControlBytesQuotesAndBackslashes) {
  EXPECT_EQ(EscapeSample("+OK\r\n"), "+OK\\r\\n");
  EXPECT_EQ(EscapeSample(std::string("a\0b\tc", 5)), "a\\0b\\tc");
  EXPECT_EQ(EscapeSample("say \"hi\" \\ bye"), "say \\\"hi\\\" \\\\ bye");
  EXPECT_EQ(EscapeSample("\x1b[2J\x7f"), "\\x1b[2J\\x7f");
}

TEST(EscapeSample, WritesEveryHighByteAsHex) {
  // Not well-formed UTF-8, well-formed UTF-8 and a bidirectional override:
  // all become plain ASCII that cannot reorder or garble a line.
  EXPECT_EQ(EscapeSample("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(EscapeSample("\xc3\xa9"), "\\xc3\\xa9");
  EXPECT_EQ(EscapeSample("\xe2\x80\xae"), "\\xe2\\x80\\xae");
  EXPECT_EQ(EscapeSample(std::string("\xd0\x00", 2)), "\\xd0\\0");
}

TEST(EscapeSample, KeepsAtMostTheFirstBytes) {
  const std::string long_reply(kFailureSampleBytes + 10, 'x');
  EXPECT_EQ(EscapeSample(long_reply), std::string(kFailureSampleBytes, 'x') + "...");
  EXPECT_EQ(EscapeSample(std::string(kFailureSampleBytes, 'y')), std::string(kFailureSampleBytes, 'y'));
  EXPECT_EQ(EscapeSample(""), "");
}

TEST(EscapeSample, OutputIsPrintableAscii) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (size_t offset = 0; offset < all.size(); offset += kFailureSampleBytes) {
    for (const char ch : EscapeSample(all.substr(offset, kFailureSampleBytes))) {
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << static_cast<int>(ch);
    }
  }
}

}  // namespace
}  // namespace fourtuple
