#include "common/utf8.h"

#include "gtest/gtest.h"

namespace fourtuple {
namespace {

TEST(Utf8Test, DecodesEachLength) {
  const Utf8Char a = DecodeUtf8("a", 0);
  EXPECT_EQ(a.code_point, U'a');
  EXPECT_EQ(a.length, 1u);
  EXPECT_EQ(DecodeUtf8("\xC3\x97", 0).code_point, U'\u00D7');       // ×
  EXPECT_EQ(DecodeUtf8("x\xE6\x97\xA5", 1).code_point, U'\u65E5');  // 日
  const Utf8Char emoji = DecodeUtf8("\xF0\x9F\x98\x80", 0);         // 😀
  EXPECT_EQ(emoji.code_point, U'\U0001F600');
  EXPECT_EQ(emoji.length, 4u);
}

TEST(Utf8Test, RefusesWhatIsNotWellFormed) {
  for (const char* bad : {"\x80", "\xFF", "\xC3", "\xE6\x97", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xC3\x41"}) {
    EXPECT_EQ(DecodeUtf8(bad, 0).length, 0u) << bad;
  }
}

TEST(Utf8Test, TruncatesAtCharacters) {
  EXPECT_EQ(TruncateUtf8("abc", 3), "abc");
  EXPECT_EQ(TruncateUtf8("abcd", 3), "abc\u2026");
  EXPECT_EQ(TruncateUtf8("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 2), "\xE6\x97\xA5\xE6\x9C\xAC\u2026");
  EXPECT_EQ(TruncateUtf8("", 0), "");
  EXPECT_EQ(TruncateUtf8("a", 0), "\u2026");
}

}  // namespace
}  // namespace fourtuple
